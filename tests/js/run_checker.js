// Runs the browser checker (mlcycle_ref/quiz/static/quiz-check.js) on a JSON file of
// {lexicon, cases: [{question, response}], words: [...]} and prints
// {results: [{correct, score, message, missed, link} | {error}], stems: [...]} as JSON.
"use strict";
const fs = require("fs");
const path = require("path");

const [checkerPath, inputPath] = process.argv.slice(2);
const { makeChecker, ResponseError } = require(path.resolve(checkerPath));
const input = JSON.parse(fs.readFileSync(inputPath, "utf8"));
const checker = makeChecker(input.lexicon);

const results = input.cases.map(({ question, response }) => {
  try {
    return checker.check(question, response);
  } catch (error) {
    if (error instanceof ResponseError) return { error: error.message };
    throw error;
  }
});
const stems = input.words.map((word) => checker.stem(word));
process.stdout.write(JSON.stringify({ results, stems }));
