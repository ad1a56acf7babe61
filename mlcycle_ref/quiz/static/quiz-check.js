/* mlcycle quiz checker: a faithful port of mlcycle_ref/quiz/rubric.py and checking.py.
 *
 * makeChecker(lexicon) returns check(question, response) -> feedback
 * {correct, score, message, missed, link}. The lexicon is checker-data.json, compiled from
 * lexicon.yml (word lists, thresholds, Leitner intervals); questions are the banks' questions
 * as plain data.
 * tests/test_quiz_browser_checker.py runs this file in node against the Python checker.
 * Works as a browser script (window.MLQCheck) and as a CommonJS module.
 */
(function (root, factory) {
  if (typeof module === "object" && module.exports) {
    module.exports = factory();
  } else {
    root.MLQCheck = factory();
  }
}(typeof self !== "undefined" ? self : this, function () {
  "use strict";

  const NEG = "~not";
  const VOWELS = /[aeiouy]/;
  const TRUE_WORDS = ["true", "t", "yes", "y", "1"];
  const FALSE_WORDS = ["false", "f", "no", "n", "0"];

  class ResponseError extends Error {}

  function stripAccents(text) {
    return text.normalize("NFKD").replace(/\p{M}/gu, "");
  }

  function compareArrays(a, b) {
    for (let i = 0; i < Math.min(a.length, b.length); i++) {
      if (a[i] !== b[i]) return a[i] < b[i] ? -1 : 1;
    }
    return a.length - b.length;
  }

  function plain(text) {
    return stripAccents(String(text)).toLowerCase().replace(/[^a-z0-9]+/g, "");
  }

  function makeChecker(lexicon) {
    const set = (key) => new Set(lexicon[key]);
    const STOPWORDS = set("stopwords");
    const AUXILIARIES = set("auxiliaries");
    const NEGATORS = set("negators");
    const NOT_CANCELLERS = set("not_cancellers");
    const ADVERB_NEGATORS = set("adverb_negators");
    const CLAUSE_BREAKS = set("clause_breaks");
    const PRONOUNS = set("pronouns");
    const CRITIQUE = set("critique_words");
    const COPULAS = set("copulas");
    const COMPARERS = set("comparers");
    const NO_STEM = set("no_stem");
    const POST_NEGATORS = set("post_negators");
    const FILLERS = set("fillers");
    const HEDGES = lexicon.hedges;
    const WEAK_HEDGES = lexicon.weak_hedges;
    const LIGHT_HEDGES = lexicon.light_hedges;
    const CHATTER = lexicon.chatter;
    const LOOSE_CHATTER = set("loose_chatter");
    const VERB_FORMS = set("verb_forms");
    const JOINS = lexicon.joins;
    const IRREGULAR = lexicon.irregular;
    const CANONICAL = lexicon.canonical;
    const has = (map, key) => Object.prototype.hasOwnProperty.call(map, key);
    const canonical = (word) => (has(CANONICAL, word) ? CANONICAL[word] : word);

    function undouble(base) {
      const last = base[base.length - 1];
      if (last === base[base.length - 2] && !"aeiouylsz".includes(last)) return base.slice(0, -1);
      if (base.endsWith("ell") && base.length >= 5) return base.slice(0, -1);
      return base;
    }

    function stem(word) {
      if (has(IRREGULAR, word)) word = IRREGULAR[word];
      if (NO_STEM.has(word) || word.length <= 3 || !/^[a-z]+$/.test(word)) return canonical(word);
      word = word.split("yz").join("ys").split("iz").join("is");
      if (word.endsWith("sses")) {
        word = word.slice(0, -2);
      } else if (word.endsWith("ies") && word.length > 4) {
        word = word.slice(0, -3) + "y";
      } else if (word.endsWith("s") && !["ss", "us", "is"].some((e) => word.endsWith(e))) {
        word = word.slice(0, -1);
      }
      if (word.endsWith("ied") && word.length > 4) {
        word = word.slice(0, -3) + "y";
      } else if (word.endsWith("ing") || (word.endsWith("ed") && !word.endsWith("eed"))) {
        const base = word.endsWith("ing") ? word.slice(0, -3) : word.slice(0, -2);
        if (base.length >= 3 && VOWELS.test(base)) word = undouble(base);
      }
      const derivations = [["isation", "is"], ["ation", ""], ["ition", ""], ["tion", "t"],
        ["sion", "s"], ["sis", "s"], ["ment", ""], ["ness", ""]];
      for (const [suffix, replacement] of derivations) {
        if (word.endsWith(suffix)) {
          if (word.length - suffix.length >= 4) word = word.slice(0, -suffix.length) + replacement;
          break;
        }
      }
      if (word.endsWith("e") && word.length >= 4) word = word.slice(0, -1);
      return canonical(word);
    }

    function normalise(text) {
      text = stripAccents(String(text)).toLowerCase();
      text = text.replace(/[\u2018\u2019\u02bc`\u00b4]/g, "'").replace(/[\u201c\u201d]/g, '"');
      text = text.replace(/\be\.g\.?/g, " eg ").replace(/\bi\.e\.?/g, " ie ");
      text = text.replace(/\b(etc|vs)\./g, " $1 ");
      text = text.replace(/\bcan'?t\b/g, "can not").replace(/\bwon't\b/g, "will not");
      text = text.replace(/\bshan't\b/g, "shall not").replace(/n't\b/g, " not");
      text = text.replace(/\bcannot\b/g, "can not");
      text = text.replace(
        /\b(do|does|did|is|are|was|were|has|have|had|should|could|would|must|need)nt\b/g,
        "$1 not");
      text = text.replace(/([a-z])'(s|re|ve|ll|d|m)\b/g, "$1 ").split("'").join(" ");
      for (const [phrase, word] of Object.entries(lexicon.rewrites)) {
        text = text.replace(new RegExp("(?<![a-z0-9])" + phrase.split(/\s+/).join("[ \\t\\r\\n/-]+") +
          "(?![a-z0-9])", "g"), ` ${word} `);
      }
      for (const phrase of lexicon.negating_phrases) {
        text = text.replace(new RegExp("\\b" + phrase.split(/\s+/).join("\\s+") + "\\b", "g"),
          " not ");
      }
      return text;
    }

    function join(words) {
      const joined = [];
      for (const word of words) {
        const last = joined[joined.length - 1];
        if (joined.length && JOINS.some(([first, start]) => last === first &&
            word.startsWith(start))) {
          joined[joined.length - 1] += word;
        } else {
          joined.push(word);
        }
      }
      return joined;
    }

    function tokenise(text, subjectStarts) {
      subjectStarts = subjectStarts || new Set();
      const tokens = [];
      let clause = -1;
      const sentences = normalise(text).split(/[!?;\n]+|\.(?![0-9])/).filter((s) => s.trim());
      sentences.forEach((sentence, sentenceNo) => {
        const pieces = sentence.split(/[,:()[\]{}"=\u2013\u2014]|\s-+>?(?=\s)|->/);
        for (const piece of pieces) {
          const words = join(piece === undefined ? [] : (piece.match(/[a-z0-9]+/g) || []));
          clause += 1;
          words.forEach((word, i) => {
            const next = i + 1 < words.length ? words[i + 1] : "";
            const after = FILLERS.has(next) && i + 2 < words.length ? words[i + 2] : next;
            if (NEGATORS.has(word) && NOT_CANCELLERS.has(next)) return;
            const denies = NEGATORS.has(word) || (POST_NEGATORS.has(word) && i > 0 &&
              AUXILIARIES.has(words[i - 1]));
            const startsClause = CLAUSE_BREAKS.has(word) || ((word === "and" || word === "or") &&
              (PRONOUNS.has(next) || subjectStarts.has(stem(after))));
            if (startsClause && i > 0) clause += 1;
            tokens.push({
              surface: word,
              stem: denies ? NEG : stem(word),
              sentence: sentenceNo,
              clause: clause,
              stop: STOPWORDS.has(word),
            });
          });
        }
      });
      return tokens;
    }

    const compiled = new Map();
    function isOrdered(phrasing) {
      return phrasing.trimStart().startsWith(">");
    }

    function compilePhrasing(phrasing) {
      if (compiled.has(phrasing)) return compiled.get(phrasing);
      const slots = [];
      const pattern = /\[([^\]]*)\]|(\S+)/g;
      let found;
      while ((found = pattern.exec(phrasing)) !== null) {
        const alternatives = [];
        const texts = found[1] !== undefined ? found[1].split("|") : [found[2]];
        for (const alternative of texts) {
          const stems = tokenise(alternative).filter((t) => !t.stop).map((t) => t.stem);
          if (stems.length && !alternatives.some((a) => a.join(" ") === stems.join(" "))) {
            alternatives.push(stems);
          }
        }
        if (alternatives.length) slots.push(alternatives);
      }
      compiled.set(phrasing, slots);
      return slots;
    }

    function copiedPositions(answer, prompt) {
      const mine = [];
      answer.forEach((t, i) => { if (!t.stop) mine.push(i); });
      const theirs = prompt.filter((t) => !t.stop).map((t) => t.stem);
      const needed = Math.min(lexicon.thresholds.copy_run, theirs.length) || 1;
      const copied = new Set();
      let previous = new Array(theirs.length + 1).fill(0);
      mine.forEach((i, n) => {
        const current = new Array(theirs.length + 1).fill(0);
        theirs.forEach((other, j) => {
          if (answer[i].stem === other) {
            current[j + 1] = previous[j] + 1;
            if (current[j + 1] >= needed) {
              for (const p of mine.slice(n - current[j + 1] + 1, n + 1)) copied.add(p);
            }
          }
        });
        previous = current;
      });
      return copied;
    }

    /* similar() of rubric.py: the stem (or the start of the surface form) within a typing
     * slip of the target stem, for stems of five letters or more. */
    const slipCache = new Map();
    function slips(word, target, allowed) {
      const key = `${word}\u0000${target}`;
      if (!slipCache.has(key)) slipCache.set(key, editDistance(word, target) <= allowed);
      return slipCache.get(key);
    }

    function similar(word, target, surface) {
      if (word === target) return true;
      if (target.length < 5 || word.slice(0, 1) !== target.slice(0, 1) || word === NEG ||
          target === NEG) return false;
      const allowed = target.length < 9 ? 1 : 2;
      if (word.length >= 5 && Math.abs(word.length - target.length) <= allowed &&
          slips(word, target, allowed)) return true;
      surface = surface || "";
      return target.length < surface.length && surface.length <= target.length + 5 &&
        slips(surface.slice(0, target.length), target, allowed);
    }

    class Answer {
      constructor(text, prompt, subjects) {
        const aliases = {};
        for (const [name, names] of Object.entries(subjects)) {
          aliases[name] = names.map((a) => compilePhrasing(`[${a}]`)[0][0]);
        }
        const starts = new Set();
        for (const forms of Object.values(aliases)) for (const alias of forms) starts.add(alias[0]);
        this.tokens = tokenise(text, starts);
        this.exact = false;
        this.known = new Set();
        this.content = [];
        this.tokens.forEach((t, i) => { if (!t.stop) this.content.push(i); });
        this.rank = new Map(this.content.map((pos, n) => [pos, n]));
        this.copied = copiedPositions(this.tokens, tokenise(prompt, starts));
        const mentions = [];
        for (const [name, forms] of Object.entries(aliases)) {
          for (const form of forms) {
            for (const run of this.runs(form, true)) mentions.push([name, run]);
          }
        }
        mentions.sort((a, b) => compareArrays(a[1], b[1]));
        this.subject = this.subjects(mentions);
      }

      subjects(mentions) {
        return this.tokens.map((token, i) => {
          let best = null;
          for (const [name, run] of mentions) {
            if (this.tokens[run[0]].sentence !== token.sentence) continue;
            let near = run[0];
            for (const p of run) if (Math.abs(p - i) < Math.abs(near - i)) near = p;
            const distance = [Math.abs(this.tokens[near].clause - token.clause), Math.abs(near - i)];
            if (best === null || compareArrays(distance, best[0]) < 0) best = [distance, name];
          }
          if (best === null) {
            const earlier = mentions.filter(([, run]) =>
              this.tokens[run[0]].sentence < token.sentence);
            return earlier.length ? earlier[earlier.length - 1][0] : null;
          }
          return best[1];
        });
      }

      runs(stems, mentions) {
        const found = [];
        for (let n = 0; n <= this.content.length - stems.length; n++) {
          const run = this.content.slice(n, n + stems.length);
          if (run.every((p, k) => (this.exact || this.known.has(this.tokens[p].stem)
            ? this.tokens[p].stem === stems[k]
            : similar(this.tokens[p].stem, stems[k], this.tokens[p].surface))) &&
              new Set(run.map((p) => this.tokens[p].sentence)).size === 1 &&
              (mentions || !run.some((p) => this.copied.has(p)))) {
            found.push(run);
          }
        }
        return found;
      }

      matches(phrasing, subject) {
        return this.slotMatches(compilePhrasing(phrasing), subject, isOrdered(phrasing));
      }

      nearMatches(phrasing, subject) {
        const slots = compilePhrasing(phrasing);
        if (slots.length < 3) return [];
        const found = [];
        for (let k = 0; k < slots.length; k++) {
          found.push(...this.slotMatches(slots.slice(0, k).concat(slots.slice(k + 1)), subject,
            isOrdered(phrasing)));
        }
        return found;
      }

      slotMatches(slots, subject, ordered) {
        const perSlot = slots.map((slot) => {
          const options = [];
          for (const alt of slot) {
            const isNeg = alt.length === 1 && alt[0] === NEG;
            for (const run of this.runs(alt, false)) options.push([isNeg, run]);
          }
          return options;
        });
        const found = [];
        const combo = [];
        const visit = (k) => {
          if (k === perSlot.length) {
            this.consider(combo, subject, found, ordered);
            return;
          }
          for (const option of perSlot[k]) {
            combo.push(option);
            visit(k + 1);
            combo.pop();
          }
        };
        if (perSlot.every((options) => options.length)) visit(0);
        return found;
      }

      consider(combo, subject, found, ordered) {
        const positions = [];
        for (const [, run] of combo) positions.push(...run);
        if (new Set(positions).size < positions.length) return;
        if (new Set(positions.map((p) => this.tokens[p].sentence)).size > 1) return;
        if (ordered || combo.some(([isNeg]) => isNeg)) {
          for (let k = 0; k + 1 < combo.length; k++) {
            const run = combo[k][1];
            if (run[run.length - 1] > Math.min(...combo[k + 1][1])) return;
          }
        }
        if (ordered && new Set(positions.map((p) => this.tokens[p].clause)).size > 1) return;
        for (let k = 0; k + 1 < combo.length; k++) {
          const [isNeg, run] = combo[k];
          if (isNeg && this.tokens[run[run.length - 1]].clause !==
              this.tokens[combo[k + 1][1][0]].clause) return;
        }
        const first = Math.min(...positions);
        const last = Math.max(...positions);
        if (this.rank.get(last) - this.rank.get(first) + 1 > lexicon.thresholds.max_span) return;
        if (subject !== null && subject !== undefined &&
            positions.some((p) => this.subject[p] !== subject)) return;
        found.push(positions.slice().sort((a, b) => a - b));
      }

      negated(match, consumed) {
        const first = match[0];
        const last = match[match.length - 1];
        for (let q = 0; q < this.tokens.length; q++) {
          const token = this.tokens[q];
          if (token.stem !== NEG || consumed.has(q)) continue;
          if (first < q && q < last) return true;
          if (match.some((p) => q < p && token.clause === this.tokens[p].clause &&
              !this.tokens.slice(q + 1, p).some((t) => PRONOUNS.has(t.surface)))) return true;
          const between = this.tokens.slice(last + 1, q - 1);
          if (q > last && token.clause === this.tokens[last].clause &&
              ((q === last + 1 && ADVERB_NEGATORS.has(token.surface)) ||
              (AUXILIARIES.has(this.tokens[q - 1].surface) && between.length <= 2 &&
               !between.some((t) => PRONOUNS.has(t.surface))))) return true;
        }
        return false;
      }

      flatlyDenied(match, consumed) {
        const clause = this.tokens[match[0]].clause;
        const opening = this.tokens.findIndex((t) => t.clause === clause && !t.stop);
        return this.tokens.some((t, q) => t.stem === NEG && !consumed.has(q) &&
          t.sentence === this.tokens[match[0]].sentence &&
          (q > match[match.length - 1] || q === opening));
      }

      acting(match) {
        const first = this.tokens[match[0]].surface;
        return (VERB_FORMS.has(first) || first.endsWith("ing")) &&
          match.every((q) => this.tokens[q].stem !== NEG);
      }

      verbless(match) {
        const sentence = this.tokens[match[0]].sentence;
        const words = this.tokens.filter((t) => t.sentence === sentence);
        return words.filter((t) => !t.stop).length <= lexicon.thresholds.lone_words &&
          !words.some((t) => VERB_FORMS.has(t.surface) || AUXILIARIES.has(t.surface) ||
            PRONOUNS.has(t.surface));
      }

      critiqued(match) {
        const first = this.tokens[match[0]];
        return this.tokens.some((t, q) => t.sentence === first.sentence && !match.includes(q) &&
          (CRITIQUE.has(t.surface) || (COMPARERS.has(t.surface) && q < match[0] &&
            t.clause === first.clause)));
      }
    }

    function isKeywordList(text) {
      const tokens = tokenise(text);
      const pieces = normalise(text).split(/[,;/|\n\u2022*]|\s-+>?\s|->/)
        .map((s) => (s === undefined ? [] : (s.match(/[a-z0-9]+/g) || [])))
        .filter((words) => words.length > 0);
      const segments = pieces.map((words) => words.length);
      const actions = pieces.filter((words) => words.length >= 2 && acts(words)).length +
        (text.match(/->|=>|\u2192/g) || []).length;
      const functionWords = tokens.filter((t) => t.stop).length;
      if (tokens.length < 3) return false;
      if (tokens.some((t) => FILLERS.has(t.surface)) &&
          !tokens.some((t) => t.stop && !FILLERS.has(t.surface)) &&
          !acts(tokens.map((t) => t.surface))) return true;
      if (functionWords > Math.floor(tokens.length / 10)) return false;
      const shortItems = segments.length >= 2 &&
        segments.reduce((a, b) => a + b, 0) / segments.length <= 3.5 &&
        actions * 2 <= segments.length;
      return shortItems || (functionWords === 0 && tokens.length >= 6 &&
        actions * 2 <= segments.length);
    }

    function acts(words) {
      return words.some((w, k) => VERB_FORMS.has(w) && (k === 0 || !FILLERS.has(words[k - 1])));
    }

    function isTerse(text) {
      const tokens = tokenise(text);
      return tokens.length >= 3 && tokens.length <= 5 && !tokens.some((t) => t.stop) &&
        !acts(tokens.map((t) => t.surface));
    }

    function isHedged(text, hedges) {
      return countHedges(text, hedges) > 0;
    }

    function countHedges(text, hedges) {
      let plainText = normalise(text);
      let count = 0;
      for (const hedge of [...hedges].sort((a, b) => b.length - a.length)) {
        const pattern = new RegExp("(?<![a-z0-9])" + hedge.split(/\s+/).join("[ \\t\\r\\n]+") +
          "(?![a-z0-9])", "g");
        count += (plainText.match(pattern) || []).length;
        plainText = plainText.replace(pattern, ",");
      }
      return count;
    }

    function stripChatter(text) {
      let plainText = normalise(text);
      let count = 0;
      let strong = 0;
      for (const phrase of CHATTER) {
        const words = phrase.split(/[ \t\r\n]+/).join("[ \\t\\r\\n]+");
        const pattern = new RegExp("(?<![a-z0-9])" + words + "(?![a-z0-9])", "g");
        const n = (plainText.match(pattern) || []).length;
        count += n;
        if (!LOOSE_CHATTER.has(phrase)) strong += n;
        plainText = plainText.replace(pattern, ",");
      }
      return [plainText, count, strong];
    }

    function isPadded(text) {
      const [rest, count] = stripChatter(text);
      const words = rest.match(/[a-z0-9]+/g) || [];
      const verbs = words.some((w) => VERB_FORMS.has(w) ||
        (AUXILIARIES.has(w) && !COPULAS.has(w)) || w.endsWith("ed"));
      return count > 0 && (isKeywordList(rest) || isTerse(rest) || (count > 1 && !verbs));
    }

    function isRestated(prepared, promptStems) {
      const content = prepared.content.map((i) => prepared.tokens[i].stem).filter((s) => s !== NEG);
      const novel = content.filter((s) => !promptStems.has(s));
      return content.length > 0 && novel.length < 3 && novel.length <= 0.3 * content.length;
    }

    function analyseAnswer(answer, prompt, points, subjects) {
      const prepared = new Answer(answer, prompt, subjects || {});
      for (const point of points) {
        for (const phrasing of point.phrasings.concat(point.contradictions || [])) {
          for (const slot of compilePhrasing(phrasing)) {
            for (const alternative of slot) for (const word of alternative) prepared.known.add(word);
          }
        }
      }
      const found = points.map((point) => {
        const subject = point.subject === undefined ? null : point.subject;
        const matches = [];
        const against = [];
        for (const p of point.phrasings) matches.push(...prepared.matches(p, subject));
        for (const p of point.contradictions || []) against.push(...prepared.matches(p, subject));
        return [matches, against];
      });
      const consumed = new Set();
      for (const [matches] of found) {
        for (const m of matches) for (const q of m) if (prepared.tokens[q].stem === NEG) consumed.add(q);
      }
      const key = (m) => m.join(",");
      const lone = points.map((point) => {
        const subject = point.subject === undefined ? null : point.subject;
        const keys = new Set();
        for (const p of point.phrasings) {
          if (compilePhrasing(p).length !== 1) continue;
          for (const m of prepared.matches(p, subject)) if (prepared.verbless(m)) keys.add(key(m));
        }
        return keys;
      });
      const none = new Set();
      const made = [];
      const negated = [];
      const contradicted = [];
      const near = [];
      const bare = [];
      const affirmedAll = [];
      found.forEach(([matches, against], k) => {
        const point = points[k];
        const subject = point.subject === undefined ? null : point.subject;
        // A negator taken by a phrasing of the same point from the end of an act denies the
        // act and every match inside it (see rubric.py).
        const denied = matches.filter((m) => {
          if (!prepared.acting(m) || prepared.negated(m, consumed)) return false;
          const own = new Set(consumed);
          for (const o of matches) {
            if (o[0] === m[m.length - 1] && o[0] !== m[0]) for (const q of o) own.delete(q);
          }
          return prepared.negated(m, own);
        });
        const affirmed = matches.filter((m) => !prepared.negated(m, consumed) &&
          !denied.some((d) => d[0] <= m[0] && m[0] <= d[d.length - 1]));
        affirmedAll.push(...affirmed);
        bare.push(affirmed.length > 0 && affirmed.every((m) => lone[k].has(key(m))));
        // A point made in one sentence and flatly denied in another (see rubric.py).
        const madeIn = new Set(affirmed.map((m) => prepared.tokens[m[0]].sentence));
        const opposed = against.some((m) => !prepared.negated(m, none) && !prepared.critiqued(m)) ||
          (affirmed.length > 0 && matches.some((m) => !affirmed.includes(m) &&
            !madeIn.has(prepared.tokens[m[0]].sentence) && prepared.flatlyDenied(m, consumed)));
        made.push(affirmed.length > 0 && !opposed);
        negated.push(matches.length > 0 && affirmed.length === 0);
        contradicted.push(opposed);
        near.push(!made[k] && !opposed && !matches.length && point.phrasings.some((p) =>
          prepared.nearMatches(p, subject).some((m) => !prepared.negated(m, consumed))));
      });
      // Where each affirmed match ends, clause by clause (see rubric.py).
      const madeEnds = new Map();
      for (const m of affirmedAll) {
        for (const q of m) {
          const clause = prepared.tokens[q].clause;
          madeEnds.set(clause, Math.max(madeEnds.has(clause) ? madeEnds.get(clause) : q, q));
        }
      }
      prepared.exact = true;
      const exact = points.map((point, k) => {
        const subject = point.subject === undefined ? null : point.subject;
        return made[k] && point.phrasings.some((p) =>
          prepared.matches(p, subject).some((m) => !prepared.negated(m, consumed)));
      });
      const keywordList = isKeywordList(answer);
      const promptStems = new Set(tokenise(prompt).filter((t) => !t.stop).map((t) => t.stem));
      const restated = isRestated(prepared, promptStems);
      const terse = isTerse(answer);
      const light = countHedges(answer, LIGHT_HEDGES);
      const signs = countHedges(answer, WEAK_HEDGES) + light +
        (/\?[ \t\r\n]*$/.test(answer) ? 1 : 0);
      const lightlyHedged = signs > 0 && signs < lexicon.thresholds.guess_signs && light === signs;
      const hedged = isHedged(answer, HEDGES) || signs >= lexicon.thresholds.guess_signs;
      const padded = isPadded(answer);
      const capped = keywordList || restated || terse || hedged || padded;
      const share = made.length ? made.filter(Boolean).length / made.length : 0;
      return {
        made, negated, contradicted, keywordList, near, restated, terse, capped, hedged, padded,
        exact,
        chatter: stripChatter(answer)[2],
        bare: bare.map((b, k) => b && made[k]),
        denialNear: prepared.tokens.some((t, q) => t.stem === NEG && !consumed.has(q) &&
          q < (madeEnds.has(t.clause) ? madeEnds.get(t.clause) : -1)),
        doubtful: signs > 0 && !lightlyHedged,
        lightlyHedged,
        denies: prepared.tokens.some((t, q) => t.stem === NEG && !consumed.has(q)),
        copiedShare: prepared.content.length ? prepared.copied.size / prepared.content.length : 0,
        nWords: prepared.tokens.length,
        score: capped ? Math.min(share, lexicon.thresholds.keyword_cap) : share,
      };
    }

    function partsMissing(q, made) {
      const parts = [];
      for (const p of q.rubric) if (p.part && !parts.includes(p.part)) parts.push(p.part);
      const covered = new Set(q.rubric.filter((p, k) => made[k]).map((p) => p.part));
      return parts.filter((part) => !covered.has(part));
    }

    function passes(q, made) {
      return made.filter(Boolean).length / made.length >= q.pass_mark - 1e-9 &&
        !partsMissing(q, made).length;
    }

    function marginal(q, analysis) {
      if (!passes(q, analysis.exact)) return "a key point is matched only through a spelling slip";
      if (!passes(q, analysis.made.map((m, k) => m && !analysis.bare[k]))) {
        return "a part of the question is answered by a lone term, not a statement";
      }
      if (analysis.negated.some(Boolean)) return "it seems to deny a key point";
      if (analysis.denialNear) return "a negation sits next to a key point";
      if (analysis.lightlyHedged && !analysis.made.every(Boolean)) {
        return "it hedges and leaves a key point out";
      }
      const limits = lexicon.thresholds;
      const modelWords = q.model_answer.trim().split(/\s+/).length;
      if (!analysis.made.every(Boolean) && analysis.nWords < limits.partial_share * modelWords) {
        return "it is brief and leaves a key point out";
      }
      if (analysis.chatter > 1) return "it is padded with filler words";
      const made = analysis.made.filter(Boolean).length;
      const weak = [analysis.chatter === 1, analysis.nWords < limits.short_share * modelWords,
        analysis.nWords > limits.long_share * modelWords,
        made <= Math.ceil(q.pass_mark * analysis.made.length - 1e-9)];
      return weak.filter(Boolean).length >= 2 ? "it only just makes the pass mark" : "";
    }

    function oneStepShort(q, analysis, missingParts) {
      const near = new Set(q.rubric.filter((p, k) => analysis.near[k])
        .map((p) => (p.part ? p.part : p.point)));
      if (q.kind !== "short" || analysis.nWords < 8) return false;
      if (missingParts.length) {
        return missingParts.length === 1 && near.has(missingParts[0]) &&
          analysis.score + 1e-9 >= q.pass_mark - 1 / q.rubric.length;
      }
      const made = analysis.made.filter(Boolean).length;
      const shortByOne = analysis.score < q.pass_mark - 1e-9 &&
        (made + 1) / analysis.made.length >= q.pass_mark - 1e-9;
      return shortByOne && analysis.near.some(Boolean);
    }

    function feedback(correct, score, message, missed, unsure) {
      return { correct, score, message, missed: missed || [], unsure: Boolean(unsure) };
    }

    function choice(question, response) {
      if (typeof response === "number") {
        if (!Number.isInteger(response) || response < 0 || response >= question.choices.length) {
          throw new ResponseError(`question ${question.id}: choice number ${response} out of range`);
        }
        return question.choices[response];
      }
      const wanted = plain(response);
      const hit = question.choices.find((c) => plain(c) === wanted);
      if (hit === undefined) {
        throw new ResponseError(`question ${question.id}: ${response} is not one of the choices`);
      }
      return hit;
    }

    function parseNumber(text) {
      if (typeof text === "number") return text;
      const cleaned = String(text).replace(/[\t\n\v\f\r \u00a0\u2009\u202f,%]/g, "");
      if (!/^[+-]?([0-9]+\.?[0-9]*|\.[0-9]+)([eE][+-]?[0-9]+)?$/.test(cleaned)) {
        throw new ResponseError(`expected a number, found ${text}`);
      }
      return parseFloat(cleaned);
    }

    function formatNumber(value) {
      // number_text() in checking.py writes numbers this way too.
      return Object.is(value, -0) ? "0" : String(value);
    }

    function editDistance(a, b) {
      const rows = [Array.from({ length: b.length + 1 }, (_, j) => j)];
      for (let i = 1; i <= a.length; i++) {
        const row = [i].concat(new Array(b.length).fill(0));
        const prev = rows[rows.length - 1];
        for (let j = 1; j <= b.length; j++) {
          const cost = a[i - 1] !== b[j - 1] ? 1 : 0;
          row[j] = Math.min(prev[j] + 1, row[j - 1] + 1, prev[j - 1] + cost);
          if (i > 1 && j > 1 && a[i - 1] === b[j - 2] && a[i - 2] === b[j - 1]) {
            row[j] = Math.min(row[j], rows[rows.length - 2][j - 2] + 1);
          }
        }
        rows.push(row);
      }
      return rows[rows.length - 1][b.length];
    }

    function typoAllowance(text) {
      return text.length <= 4 ? 0 : text.length <= 8 ? 1 : 2;
    }

    function longestInOrder(response, items) {
      // The same run as RapidFuzz's LCSseq in checking.py: backtrack from the end, keep a
      // match, and on a tie drop the response item.
      const n = response.length;
      const m = items.length;
      const table = Array.from({ length: n + 1 }, () => new Array(m + 1).fill(0));
      for (let i = 1; i <= n; i++) {
        for (let j = 1; j <= m; j++) {
          table[i][j] = response[i - 1] === items[j - 1] ? table[i - 1][j - 1] + 1
            : Math.max(table[i - 1][j], table[i][j - 1]);
        }
      }
      const kept = [];
      let i = n;
      let j = m;
      while (i > 0 && j > 0) {
        if (response[i - 1] === items[j - 1]) {
          kept.push(response[i - 1]);
          i -= 1;
          j -= 1;
        } else if (table[i - 1][j] >= table[i][j - 1]) {
          i -= 1;
        } else {
          j -= 1;
        }
      }
      return kept.reverse();
    }

    const CHECKERS = {
      single(q, response) {
        const chosen = choice(q, response);
        if (chosen === q.answer) return feedback(true, 1, "Correct.");
        return feedback(false, 0, `Not quite: \u201c${chosen}\u201d is not the best answer.`,
          [q.answer]);
      },
      multiple(q, response) {
        if (!Array.isArray(response)) response = [response];
        const chosen = new Set(response.map((r) => choice(q, r)));
        const right = [...chosen].filter((c) => q.answer.includes(c));
        const wrong = [...chosen].filter((c) => !q.answer.includes(c));
        const score = Math.max(0, right.length - wrong.length) / q.answer.length;
        const missed = q.answer.filter((a) => !chosen.has(a));
        if (!missed.length && !wrong.length) {
          return feedback(true, 1, "Correct: you picked exactly the right options.");
        }
        return feedback(false, score, `Not quite: ${right.length} of your picks are right and ` +
          `${wrong.length} wrong; ${missed.length} right option(s) not picked.`, missed);
      },
      truefalse(q, response) {
        if (typeof response === "string") {
          const word = plain(response);
          if (!TRUE_WORDS.includes(word) && !FALSE_WORDS.includes(word)) {
            throw new ResponseError(`question ${q.id}: expected true or false, found ${response}`);
          }
          response = TRUE_WORDS.includes(word);
        }
        if (Boolean(response) === q.answer) return feedback(true, 1, "Correct.");
        return feedback(false, 0, `Not quite: the statement is ${q.answer ? "true" : "false"}.`);
      },
      numeric(q, response) {
        const value = parseNumber(response);
        if (Math.abs(value - q.answer) <= q.tolerance + 1e-9) return feedback(true, 1, "Correct.");
        return feedback(false, 0,
          `Not quite: ${formatNumber(value)}${q.unit} is not the expected value.`);
      },
      text(q, response) {
        const typed = plain(response);
        if (!typed) return feedback(false, 0, "No answer yet.", [q.answer]);
        for (const accepted of [q.answer].concat(q.accepted)) {
          const target = plain(accepted);
          if (typed === target) return feedback(true, 1, "Correct.");
          if (editDistance(typed, target) <= typoAllowance(target)) {
            return feedback(true, 1, `Correct - watch the spelling: \u201c${accepted}\u201d.`);
          }
        }
        return feedback(false, 0, `Not quite: the answer is \u201c${q.answer}\u201d.`, [q.answer]);
      },
      matching(q, response) {
        if (response === null || typeof response !== "object" || Array.isArray(response)) {
          throw new ResponseError(`question ${q.id}: expected a mapping of left to right items`);
        }
        const wrong = q.pairs.filter(([left, right]) => response[left] !== right)
          .map(([left]) => left);
        if (!wrong.length) return feedback(true, 1, "Correct: every pair matches.");
        return feedback(false, 1 - wrong.length / q.pairs.length,
          `${q.pairs.length - wrong.length} of ${q.pairs.length} pairs are right.`, wrong);
      },
      ordering(q, response) {
        response = response.map((r) => (typeof r === "number" ? q.items[r] : String(r)));
        if (response.slice().sort().join("\u0000") !== q.items.slice().sort().join("\u0000")) {
          throw new ResponseError(`question ${q.id}: expected each item exactly once`);
        }
        if (response.every((item, i) => item === q.items[i])) {
          return feedback(true, 1, "Correct: the order is right.");
        }
        const kept = longestInOrder(response, q.items);
        return feedback(false, kept.length / q.items.length,
          `${kept.length} of ${q.items.length} items are in the right order.`,
          q.items.filter((item) => !kept.includes(item)));
      },
      short(q, response) {
        const text = String(response || "").trim();
        const points = q.rubric.map((p) => p.point);
        if (!text) return feedback(false, 0, "No answer yet: write one or two sentences.", points);
        const analysis = analyseAnswer(text, q.prompt, q.rubric, q.subjects);
        const score = analysis.score;
        const tooShort = q.kind === "essay" && analysis.nWords < q.min_words;
        const missingParts = partsMissing(q, analysis.made);
        const opposed = analysis.contradicted.some(Boolean);
        const meets = score >= q.pass_mark - 1e-9 && !missingParts.length && !tooShort;
        const doubt = meets && q.kind === "short" ? marginal(q, analysis) : "";
        const correct = meets && !analysis.hedged && !analysis.doubtful && !opposed && !doubt;
        const unsure = !correct && !opposed && !analysis.capped && !analysis.hedged &&
          !tooShort && (meets || !analysis.denies && oneStepShort(q, analysis, missingParts));
        const made = analysis.made.filter(Boolean).length;
        const verdict = correct ? "Correct" : unsure ? "Perhaps" : "Not yet";
        const notes = [analysis.capped
          ? `${verdict}: your answer mentions ${made} of ${points.length} key points without ` +
            "stating them."
          : `${verdict}: your answer makes ${made} of ${points.length} key points.`];
        if (unsure) {
          notes.push(`I cannot tell for sure${doubt ? " (" + doubt + ")" : ""}: compare it ` +
            "with the model answer and mark it yourself.");
        }
        if (analysis.keywordList) {
          notes.push("It reads as a list of keywords, which states nothing: write sentences " +
            "that say what each idea does and how they connect.");
        } else if (analysis.padded) {
          notes.push("It is course terms padded with filler words, which states nothing: write " +
            "sentences that say what each idea does.");
        } else if (analysis.terse) {
          notes.push("It is a few keywords with nothing that links them: write a sentence that " +
            "says what they do.");
        } else if (analysis.restated) {
          notes.push("It mostly repeats the question: say something the question does not.");
        } else if (analysis.copiedShare >= 0.5) {
          notes.push("Much of it repeats the question; words taken from the question earn no " +
            "credit.");
        }
        if (analysis.hedged || analysis.doubtful) {
          notes.push("It reads as a guess: state what you think as a claim.");
        }
        q.rubric.forEach((point, k) => {
          if (analysis.contradicted[k]) {
            notes.push(`It claims the opposite of a key point: ${point.point}.`);
          } else if (analysis.negated[k] && !correct) {
            notes.push(`It seems to deny a key point: ${point.point}.`);
          }
        });
        if (missingParts.length && !analysis.capped) {
          notes.push(`Not yet answered: the part on ${missingParts.join(" and ")}.`);
        }
        if (tooShort) {
          notes.push(`An essay needs at least ${q.min_words} words; this has ${analysis.nWords}.`);
        }
        return feedback(correct, score, notes.join(" "),
          points.filter((_, k) => !analysis.made[k]), unsure);
      },
    };
    CHECKERS.essay = CHECKERS.short;

    function check(question, response) {
      const result = CHECKERS[question.kind](question, response);
      result.link = question.html_link;
      result.explanation = question.explanation;
      return result;
    }

    return { check, stem, normalise, tokenise, compilePhrasing, analyseAnswer, isKeywordList,
      editDistance, parseNumber, longestInOrder, plain, ResponseError };
  }

  /* Seeded shuffles, line for line as mlcycle_ref/quiz/shuffle.py. */

  function fnv1a(text) {
    let value = 0x811c9dc5;
    for (const byte of new TextEncoder().encode(text)) {
      value = Math.imul(value ^ byte, 0x01000193) >>> 0;
    }
    return value;
  }

  function seedFor(learner, attempt, scope) {
    return fnv1a(`${learner}|${attempt}|${scope}`);
  }

  function mulberry32(seed) {
    let state = seed >>> 0;
    return function () {
      state = (state + 0x6d2b79f5) >>> 0;
      let t = Math.imul(state ^ (state >>> 15), state | 1) >>> 0;
      t = ((t + (Math.imul(t ^ (t >>> 7), t | 61) >>> 0)) >>> 0) ^ t;
      return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
    };
  }

  function shuffled(items, seed) {
    const result = items.slice();
    const draw = mulberry32(seed);
    for (let i = result.length - 1; i > 0; i--) {
      const j = Math.floor(draw() * (i + 1));
      [result[i], result[j]] = [result[j], result[i]];
    }
    return result;
  }

  function orderingStart(items, seed) {
    let order = shuffled(items, seed);
    if (order.length > 1 && order.every((item, i) => item === items[i])) {
      order = order.slice(1).concat(order.slice(0, 1));
    }
    return order;
  }

  const byCode = (a, b) => (a < b ? -1 : a > b ? 1 : 0);

  /* Choices and pairs as one attempt shows them: from a sorted copy, as Python's displayed(). */
  function shownChoices(choices, seed) {
    return shuffled(choices.slice().sort(byCode), seed);
  }

  function shownPairs(pairs, seed) {
    return shuffled(pairs.slice().sort((a, b) => byCode(a[0], b[0])), seed);
  }

  function matchingTargets(pairs, seed) {
    const rights = [...new Set(pairs.map(([, right]) => right))].sort(byCode);
    return shuffled(rights, (seed ^ 0x9e3779b9) >>> 0);
  }

  return { makeChecker, ResponseError, fnv1a, seedFor, shuffled, orderingStart,
    shownChoices, shownPairs, matchingTargets };
}));
