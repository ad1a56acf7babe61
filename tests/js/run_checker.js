// Runs the browser checker (mlcycle_ref/quiz/static/quiz-check.js) on a JSON file of
// {lexicon, cases: [{question, response}], words: [...], seeds: [[learner, attempt, scope]],
//  shuffles: [{items, seed}]} and prints
// {results: [feedback | {error}], stems: [...], seeds: [...], shuffles: [...]} as JSON.
"use strict";
const fs = require("fs");
const path = require("path");

const [checkerPath, inputPath] = process.argv.slice(2);
const { makeChecker, ResponseError, seedFor, shuffled } = require(path.resolve(checkerPath));
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
const seeds = (input.seeds || []).map(([learner, attempt, scope]) =>
  seedFor(learner, attempt, scope));
const shuffles = (input.shuffles || []).map(({ items, seed }) => shuffled(items, seed));
process.stdout.write(JSON.stringify({ results, stems, seeds, shuffles }));
