/* mlcycle quiz pages: renders the question banks embedded by the Sphinx extension
 * (mlcycle_ref/quiz/sphinx_ext.py) and checks answers in the browser with quiz-check.js.
 * Three views: a quiz, glossary flashcards (Leitner boxes in localStorage) and a personas
 * sorting exercise. No network, no kernel.
 */
(function () {
  "use strict";

  const MLQ = window.MLQCheck;
  const checker = MLQ.makeChecker(window.MLQ_LEXICON);
  const STORE_KEY = "mlcycle.flashcards.v1";
  const QUIZ_KEY = "mlcycle.quiz.v1";
  const LEARNER_KEY = "mlcycle.learner";
  // Leitner boxes come from the checker data (checker-data.json), as in the terminal drills.
  const INTERVALS = window.MLQ_LEXICON.leitner.intervals;
  const BOXES = Object.keys(INTERVALS).length;
  const RETRY_AFTER = window.MLQ_LEXICON.leitner.retry_after;

  function el(tag, attrs, ...children) {
    const node = document.createElement(tag);
    for (const [key, value] of Object.entries(attrs || {})) {
      if (key === "text") node.textContent = value;
      else if (key.startsWith("on")) node.addEventListener(key.slice(2), value);
      else if (value !== false && value !== null && value !== undefined) node.setAttribute(key, value);
    }
    for (const child of children) if (child) node.append(child);
    return node;
  }

  function shuffled(items) {
    const copy = items.slice();
    for (let i = copy.length - 1; i > 0; i--) {
      const j = Math.floor(Math.random() * (i + 1));
      [copy[i], copy[j]] = [copy[j], copy[i]];
    }
    return copy;
  }

  /* Enter in an answer field presses its submit button. In a textarea Shift+Enter adds a
   * line; an essay, written in paragraphs, submits with Ctrl+Enter (or Cmd+Enter) instead. */
  function submitOnEnter(field, submit, paragraphs) {
    field.addEventListener("keydown", (event) => {
      if (event.key !== "Enter" || event.isComposing || event.shiftKey) return;
      if (paragraphs && !(event.ctrlKey || event.metaKey)) return;
      event.preventDefault();
      submit();
    });
  }

  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

  /* ---------- browser storage: a damaged entry is kept aside, never silently lost ---------- */

  function readStore(key, fallback) {
    let raw = null;
    try {
      raw = window.localStorage.getItem(key);
    } catch (error) {
      return { value: fallback() };
    }
    if (raw === null) return { value: fallback() };
    try {
      const value = JSON.parse(raw);
      if (value && typeof value === "object") return { value };
    } catch (error) { /* fall through: damaged */ }
    const aside = `${key}.damaged-${Date.now()}`;
    try {
      window.localStorage.setItem(aside, raw);
    } catch (error) { /* storage full: the notice still tells the learner */ }
    return { value: fallback(), notice: `Your saved progress (${key}) could not be read; it ` +
      `was kept aside as ${aside} and a fresh start was made.` };
  }

  function writeStore(key, value) {
    try {
      window.localStorage.setItem(key, JSON.stringify(value));
    } catch (error) {
      /* Private browsing may refuse storage: everything still works for this visit. */
    }
  }

  function learnerId() {
    try {
      let id = window.localStorage.getItem(LEARNER_KEY);
      if (!id) {
        id = Math.random().toString(16).slice(2, 14);
        window.localStorage.setItem(LEARNER_KEY, id);
      }
      return id;
    } catch (error) {
      return "anonymous";
    }
  }

  /* ---------- inputs, one builder per kind: returns {node, read} ----------
   * `labelledBy` is the id of the question's prompt: screen readers announce it as the
   * name of the answer field or group. */

  function choiceInput(q, type, options, labelledBy) {
    const name = nextId("mlq-choice");
    const boxes = options.map(([value, label]) => {
      const id = nextId("mlq-opt");
      const input = el("input", { type, name, id, value });
      return [input, el("label", { for: id, class: "mlq-option" }, input, " " + label)];
    });
    const node = el("div", { class: "mlq-options", role: type === "radio" ? "radiogroup" : "group",
      "aria-labelledby": labelledBy },
      ...boxes.map(([, label]) => label));
    const read = () => {
      const picked = boxes.filter(([input]) => input.checked).map(([input]) => input.value);
      if (type === "radio") {
        if (!picked.length) throw new Error("unanswered");
        return picked[0];
      }
      return picked;
    };
    const write = (response) => {
      const wanted = [].concat(response).map(String);
      boxes.forEach(([input]) => { input.checked = wanted.includes(input.value); });
    };
    return { node, read, write };
  }

  function textInput(q, multiline, labelledBy) {
    const node = multiline
      ? el("textarea", { rows: q.kind === "essay" ? 10 : 4, class: "mlq-text",
        "aria-labelledby": labelledBy, placeholder: q.kind === "essay"
          ? "Your answer, in full sentences (Ctrl+Enter checks it)"
          : "Your answer, in full sentences (Enter checks it, Shift+Enter starts a line)" })
      : el("input", { type: "text", class: "mlq-line", "aria-labelledby": labelledBy,
        inputmode: q.kind === "numeric" ? "decimal" : null });
    const wrap = el("div", { class: "mlq-input-wrap" }, node,
      q.kind === "numeric" && q.unit ? el("span", { class: "mlq-unit", text: " " + q.unit }) : null);
    return { node: wrap, field: node, paragraphs: q.kind === "essay",
      read: () => node.value, write: (value) => { node.value = value; } };
  }

  function matchingInput(q, seed) {
    const rights = MLQ.matchingTargets(q.pairs, seed);
    const rows = MLQ.shownPairs(q.pairs, seed).map(([left]) => {
      const id = nextId("mlq-match");
      const select = el("select", { id },
        el("option", { value: "", text: "choose..." }),
        ...rights.map((right) => el("option", { value: right, text: right })));
      return [left, select, el("div", { class: "mlq-pair" },
        el("label", { for: id, text: left }), select)];
    });
    const read = () => {
      const response = {};
      for (const [left, select] of rows) {
        if (!select.value) throw new Error("unanswered");
        response[left] = select.value;
      }
      return response;
    };
    const write = (response) => {
      for (const [left, select] of rows) select.value = response[left] || "";
    };
    return { node: el("div", { class: "mlq-matching" }, ...rows.map((r) => r[2])), read, write };
  }

  function orderingInput(q, seed) {
    let order = MLQ.orderingStart(q.items, seed);
    const list = el("ol", { class: "mlq-ordering" });
    // An arrow's name is hidden text, not an aria-label: the book's page script drops any
    // aria-label that does not contain the button's visible text (here just the arrow).
    const arrow = (item, i, step, glyph, word) => el("button", { type: "button",
      class: "mlq-move", onclick: () => move(i, step),
      disabled: order[i + step] === undefined ? "disabled" : null },
    el("span", { "aria-hidden": "true", text: glyph }),
    el("span", { class: "mlq-hidden-text", text: `Move "${item}" ${word}` }));
    const draw = () => {
      list.replaceChildren(...order.map((item, i) => el("li", {},
        el("span", { class: "mlq-order-item", text: item }),
        arrow(item, i, -1, "\u2191", "up"), arrow(item, i, 1, "\u2193", "down"))));
    };
    // The list is redrawn, so focus follows the moved item: its same arrow, or the other
    // one once it reaches an end (a disabled button cannot hold focus).
    const move = (i, step) => {
      [order[i], order[i + step]] = [order[i + step], order[i]];
      draw();
      const buttons = list.children[i + step].querySelectorAll("button");
      const [same, other] = step < 0 ? [buttons[0], buttons[1]] : [buttons[1], buttons[0]];
      (same.disabled ? other : same).focus();
    };
    draw();
    const write = (response) => { order = response.slice(); draw(); };
    return { node: list, read: () => order.slice(), write };
  }

  function inputFor(q, labelledBy, seed) {
    const choices = q.choices && MLQ.shownChoices(q.choices, seed).map((c) => [c, c]);
    switch (q.kind) {
      case "single": return choiceInput(q, "radio", choices, labelledBy);
      case "multiple": return choiceInput(q, "checkbox", choices, labelledBy);
      case "truefalse":
        return choiceInput(q, "radio", [["true", "True"], ["false", "False"]], labelledBy);
      case "matching": return matchingInput(q, seed);
      case "ordering": return orderingInput(q, seed);
      case "short": case "essay": return textInput(q, true, labelledBy);
      default: return textInput(q, false, labelledBy);
    }
  }

  /* ---------- feedback ---------- */

  // How each kind names the `missed` of its feedback: the checker data, as in the terminal.
  const MISSED_HEADINGS = window.MLQ_LEXICON.missed_headings;
  const PASSED = ["right", "self-right"];

  function outcomeOf(result, selfMarked) {
    if (selfMarked === true) return "self-right";
    if (selfMarked === false) return "self-wrong";
    return result.correct ? "right" : "wrong";
  }

  function showFeedback(box, q, result) {
    const rubric = q.kind === "short" || q.kind === "essay";
    const verdict = result.message + (rubric ? ` (score ${result.score.toFixed(2)})` : "");
    const heading = MISSED_HEADINGS[q.kind];
    const missed = heading && result.missed.length;
    box.replaceChildren(...[
      el("p", { class: "mlq-verdict", text: verdict }),
      missed ? el("p", { text: heading }) : null,
      missed
        ? el("ul", { class: "mlq-missed" }, ...result.missed.map((m) => el("li", { text: m })))
        : null,
      el("p", { class: "mlq-explanation", text: q.explanation }),
      el("p", { class: "mlq-link" }, el("a", { href: q.href, text: "Read more in the book" })),
    ].filter(Boolean));
    box.className = "mlq-feedback " + (result.unsure ? "mlq-unsure"
      : result.correct ? "mlq-right" : "mlq-wrong");
    box.hidden = false;
  }

  /* One question: `seed` orders its choices; `saved` ({response, outcome}) restores an answer
   * given earlier in this attempt; onChecked(id, {response, outcome, score}) saves one. */
  function renderQuestion(q, number, seed, saved, onChecked) {
    const promptId = nextId("mlq-prompt");
    const input = inputFor(q, promptId, seed);
    const feedback = el("div", { class: "mlq-feedback", "aria-live": "polite", hidden: "hidden" });
    const model = q.model_answer
      ? el("details", { class: "mlq-model", hidden: "hidden" },
        el("summary", { text: "A model answer" }), el("p", { text: q.model_answer }))
      : null;
    const selfMark = el("div", { class: "mlq-self", hidden: "hidden" });
    const settle = (response, result, selfMarked) => {
      const outcome = outcomeOf(result, selfMarked);
      const score = outcome === "self-right" ? 1 : result.score;
      onChecked(q.id, { response, outcome, score });
    };
    const askSelfMark = (response, result) => {
      model.open = true;
      const mark = (agrees) => {
        selfMark.replaceChildren(el("p", { class: "mlq-verdict",
          text: `Self-marked as ${agrees ? "right" : "not yet right"}.` }));
        settle(response, result, agrees);
        checkButton.focus();  // the pressed button is gone: keep focus in the question
      };
      selfMark.replaceChildren(
        el("p", { text: "The checker cannot tell for sure. Compare your answer with the " +
          "model answer below: does it make the same points?" }),
        el("div", { class: "mlq-actions" },
          el("button", { type: "button", class: "mlq-agree", text: "My answer makes these points",
            onclick: () => mark(true) }),
          el("button", { type: "button", class: "mlq-disagree", text: "It does not",
            onclick: () => mark(false) })));
      selfMark.hidden = false;
    };
    const show = (response, selfMarked) => {
      const result = checker.check(q, response);
      showFeedback(feedback, q, result);
      if (model) model.hidden = false;
      if (result.unsure && selfMarked === undefined) askSelfMark(response, result);
      else if (result.unsure) {
        selfMark.replaceChildren(el("p", { class: "mlq-verdict",
          text: `Self-marked as ${selfMarked ? "right" : "not yet right"}.` }));
        selfMark.hidden = false;
      } else selfMark.hidden = true;
      return result;
    };
    const check = () => {
      let response;
      let result;
      try {
        response = input.read();
        result = show(response);
      } catch (error) {
        feedback.replaceChildren(el("p", { text: error instanceof checker.ResponseError
          ? `I could not read that: ${error.message}.` : "Answer every part first." }));
        feedback.className = "mlq-feedback";
        feedback.hidden = false;
        return;
      }
      if (!result.unsure) settle(response, result);
    };
    const checkButton = el("button", { type: "button", class: "mlq-check", onclick: check,
      text: "Check" });
    if (input.field) submitOnEnter(input.field, check, input.paragraphs);
    if (saved) {
      try {
        input.write(saved.response);
        const marked = saved.outcome.startsWith("self-") ? saved.outcome === "self-right"
          : undefined;
        show(saved.response, marked);
      } catch (error) { /* an answer saved for an older version of the question: ignore */ }
    }
    return el("div", { class: `mlq-question mlq-${q.kind}`, id: `mlq-${q.id}`,
      "data-question": q.id },
    el("p", { class: "mlq-prompt", id: promptId },
      el("span", { class: "mlq-number", text: `${number}. ` }),
      q.prompt),
    input.node,
    el("div", { class: "mlq-actions" }, checkButton),
    feedback, selfMark, model);
  }

  /* A quiz view keeps its attempts in localStorage: answers survive a reload, every attempt
   * draws a new order of choices, and "Review what I missed" starts an attempt made of the
   * questions whose latest outcome was not a pass. */
  function renderQuiz(root, data) {
    // One storage entry per quiz view, so the views of one page never overwrite each other.
    const key = `${QUIZ_KEY}:${data.bank}:${data.questions.map((q) => q.id).join(",")}`;
    const loaded = readStore(key, () => ({ attempts: [] }));
    const entry = Array.isArray(loaded.value.attempts) ? loaded.value : { attempts: [] };
    const learner = learnerId();
    const byId = Object.fromEntries(data.questions.map((q) => [q.id, q]));
    const save = () => writeStore(key, entry);
    const begin = (ids) => {
      entry.attempts.push({ number: entry.attempts.length + 1,
        started: new Date().toISOString().slice(0, 16), ids, answers: {} });
      save();
    };
    const missed = () => {
      const latest = {};
      for (const attempt of entry.attempts) {
        for (const [id, answer] of Object.entries(attempt.answers)) latest[id] = answer.outcome;
      }
      return data.questions.map((q) => q.id).filter((id) => id in latest &&
        !PASSED.includes(latest[id]));
    };
    if (!entry.attempts.length) begin(data.questions.map((q) => q.id));
    // A new attempt redraws the view, buttons included: focus goes to its first answer field.
    const restart = () => {
      draw();
      root.querySelector(".mlq-question input, .mlq-question textarea, .mlq-question select, " +
        ".mlq-question button:not(:disabled)").focus();
    };
    const draw = () => {
      const attempt = entry.attempts[entry.attempts.length - 1];
      const questions = attempt.ids.filter((id) => byId[id]).map((id) => byId[id]);
      const total = el("p", { class: "mlq-total", "aria-live": "polite" });
      const history = el("p", { class: "mlq-history" });
      const update = () => {
        const answers = Object.values(attempt.answers);
        const sum = answers.reduce((a, b) => a + b.score, 0);
        root.dataset.answered = answers.length;
        root.dataset.score = sum;
        root.dataset.questions = questions.length;
        document.dispatchEvent(new CustomEvent("mlq-change"));
        total.textContent = `Answered ${answers.length} of ${questions.length}; ` +
          `score ${sum.toFixed(2)} / ${questions.length} (attempt ${attempt.number}).`;
        const done = entry.attempts.filter((a) => Object.keys(a.answers).length);
        history.textContent = done.length ? "Your attempts: " + done.map((a) => {
          const score = Object.values(a.answers).reduce((x, y) => x + y.score, 0);
          return `#${a.number}: ${score.toFixed(2)} / ${a.ids.length}`;
        }).join(", ") + "." : "";
        review.disabled = missed().length === 0;
      };
      const review = el("button", { type: "button", class: "mlq-review",
        text: "Review what I missed", onclick: () => { begin(missed()); restart(); } });
      const again = el("button", { type: "button", class: "mlq-again-quiz",
        text: "Start a new attempt",
        onclick: () => { begin(data.questions.map((q) => q.id)); restart(); } });
      const nodes = questions.map((q, n) => renderQuestion(q, n + 1,
        MLQ.seedFor(learner, attempt.number, q.id), attempt.answers[q.id], (id, answer) => {
          attempt.answers[id] = answer;
          save();
          update();
        }));
      update();
      root.replaceChildren(...[
        loaded.notice ? el("p", { class: "mlq-notice", text: loaded.notice }) : null,
        ...nodes, total, history,
        el("div", { class: "mlq-actions" }, review, again)].filter(Boolean));
    };
    draw();
  }

  /* ---------- flashcards ---------- */

  function today(offsetDays) {
    const day = new Date();
    day.setDate(day.getDate() + (offsetDays || 0));
    return day.toISOString().slice(0, 10);
  }

  function saveCards(state) {
    writeStore(STORE_KEY, state);
  }

  /* Leitner rules as in mlcycle_ref/quiz/drills.py: a right answer before the card is due
   * (an early review) counts but does not promote; a wrong one always sends it to box 1. */
  function record(state, id, right) {
    const card = state.cards[id] || { box: 1, seen: 0, right: 0 };
    const early = card.due !== undefined && card.due > today();
    if (!(right && early)) {
      card.box = right ? Math.min(card.box + 1, BOXES) : 1;
      card.due = today(INTERVALS[String(card.box)]);
    }
    card.seen += 1;
    card.right += right ? 1 : 0;
    state.cards[id] = card;
    saveCards(state);
  }

  /* The next card: a missed card whose turn has come back, else the due ones (lowest box
   * first), new ones, then the rest; a missed card waits RETRY_AFTER - 1 other cards. */
  function nextCard(state, order, retry) {
    const back = retry.find((r) => r.wait <= 0);
    if (back) return back.id;
    const waiting = new Set(retry.map((r) => r.id));
    const now = today();
    const known = order.filter((id) => state.cards[id] && !waiting.has(id));
    const due = known.filter((id) => state.cards[id].due <= now).sort((a, b) =>
      state.cards[a].box - state.cards[b].box || state.cards[a].due.localeCompare(state.cards[b].due));
    const fresh = order.filter((id) => !state.cards[id]);
    const later = known.filter((id) => state.cards[id].due > now).sort((a, b) =>
      state.cards[a].due.localeCompare(state.cards[b].due));
    return due.concat(fresh, later)[0] || (retry[0] && retry[0].id);
  }

  function renderFlashcards(root, data) {
    const loaded = readStore(STORE_KEY, () => ({ cards: {} }));
    const state = loaded.value.cards ? loaded.value : { cards: {} };
    const retry = [];
    const order = shuffled(data.terms.map((t) => t.id));
    const terms = Object.fromEntries(data.terms.map((t) => [t.id, t]));
    const questions = Object.fromEntries(data.questions.map((q) => [q.id, q]));
    const stats = el("p", { class: "mlq-stats", "aria-live": "polite" });
    const card = el("div", { class: "mlq-card" });
    const mode = el("select", { "aria-label": "Drill mode" },
      el("option", { value: "flip", text: "See the term, recall the definition" }),
      el("option", { value: "type", text: "Read the definition, type the term" }));
    const drawStats = () => {
      const counts = [];
      for (let box = 1; box <= BOXES; box++) {
        counts.push(`box ${box}: ${order.filter((id) => (state.cards[id] || {}).box === box).length}`);
      }
      const fresh = order.filter((id) => !state.cards[id]).length;
      const due = order.filter((id) => state.cards[id] && state.cards[id].due <= today()).length;
      stats.textContent = `${counts.join(", ")}; new: ${fresh}; due today: ${due}.`;
    };
    const answered = (id, right) => {
      record(state, id, right);
      for (const r of retry) r.wait -= 1;
      const at = retry.findIndex((r) => r.id === id);
      if (at >= 0 && (right || retry[at].wait <= 0)) retry.splice(at, 1);
      if (!right) retry.push({ id, wait: RETRY_AFTER - 1 });
      drawStats();
    };
    // The card is redrawn after a verdict: focus goes to the new card's first control.
    const answer = (id, right) => {
      answered(id, right);
      draw().focus();
    };
    const draw = () => {
      const term = terms[nextCard(state, order, retry)];
      const back = el("div", { class: "mlq-back", hidden: "hidden" },
        el("p", { text: term.definition }),
        el("p", { class: "mlq-link" }, el("a", { href: term.href, text: "Glossary entry" })));
      if (mode.value === "flip") {
        const rate = el("div", { class: "mlq-actions", hidden: "hidden" },
          el("button", { type: "button", class: "mlq-knew", text: "I knew it",
            onclick: () => answer(term.id, true) }),
          el("button", { type: "button", class: "mlq-again", text: "Not yet",
            onclick: () => answer(term.id, false) }));
        const reveal = el("button", { type: "button", class: "mlq-reveal", text: "Show the definition",
          onclick: () => {
            back.hidden = false;
            rate.hidden = false;
            reveal.hidden = true;
            rate.firstChild.focus();
          } });
        card.replaceChildren(el("p", { class: "mlq-term", text: term.term }), reveal, back, rate);
        return reveal;
      }
      const q = questions[`${term.id}-term`];
      const typed = el("input", { type: "text", class: "mlq-line", "aria-label": "The term" });
      const result = el("p", { class: "mlq-verdict", "aria-live": "polite" });
      const next = el("button", { type: "button", class: "mlq-next", text: "Next card",
        hidden: "hidden", onclick: () => draw().focus() });
      const check = () => {
        if (submit.hidden) return;  // Enter again after the verdict changes nothing
        const verdict = checker.check(q, typed.value);
        result.textContent = verdict.message;
        answered(term.id, verdict.correct);
        submit.hidden = true;
        next.hidden = false;
        back.hidden = false;
        next.focus();
      };
      const submit = el("button", { type: "button", class: "mlq-check", text: "Check",
        onclick: check });
      submitOnEnter(typed, check, false);
      card.replaceChildren(el("p", { class: "mlq-definition", text: term.definition }),
        typed, el("div", { class: "mlq-actions" }, submit, next), result, back);
      return typed;
    };
    const reset = el("button", { type: "button", class: "mlq-reset", text: "Forget my progress",
      onclick: () => {
        state.cards = {};
        retry.length = 0;
        saveCards(state);
        drawStats();
        draw();
      } });
    mode.addEventListener("change", draw);
    root.replaceChildren(...[
      loaded.notice ? el("p", { class: "mlq-notice", text: loaded.notice }) : null,
      el("div", { class: "mlq-toolbar" }, mode, reset), stats, card].filter(Boolean));
    drawStats();
    draw();
  }

  /* ---------- personas sorting ---------- */

  function renderPersonaSort(root, data) {
    const names = data.personas.map((p) => p.name);
    // Every visit is an attempt with its own order, so owners never come grouped.
    const counter = `mlcycle.attempts.${data.bank}.persona-sort`;
    const attempt = (readStore(counter, () => ({ n: 0 })).value.n || 0) + 1;
    writeStore(counter, { n: attempt });
    const items = MLQ.shuffled(data.items, MLQ.seedFor(learnerId(), attempt, "persona-sort"));
    const rows = items.map((item) => {
      const buttons = names.map((name) => el("button", { type: "button", class: "mlq-persona",
        "aria-pressed": "false", text: name }));
      const mark = el("span", { class: "mlq-mark", "aria-live": "polite" });
      const textId = nextId("mlq-item");
      const row = el("li", { class: "mlq-item", "data-item": item.id },
        el("span", { class: "mlq-item-text", id: textId },
          el("span", { class: "mlq-kind", text: item.kind }), " " + item.text),
        el("span", { class: "mlq-persona-buttons", role: "group", "aria-labelledby": textId },
          ...buttons), mark);
      buttons.forEach((button) => button.addEventListener("click", () => {
        buttons.forEach((b) => b.setAttribute("aria-pressed", String(b === button)));
        row.dataset.choice = button.textContent;
        row.classList.remove("mlq-right", "mlq-wrong");
        mark.textContent = "";
      }));
      return { item, row, mark };
    });
    const summary = el("div", { class: "mlq-feedback", "aria-live": "polite", hidden: "hidden" });
    const check = () => {
      const response = {};
      for (const { item, row } of rows) response[item.text] = row.dataset.choice;
      const result = checker.check(data.question, response);
      for (const { item, row, mark } of rows) {
        const wrong = result.missed.includes(item.text);
        const owner = data.personas.find((p) => p.id === item.persona).name;
        row.classList.toggle("mlq-right", !wrong);
        row.classList.toggle("mlq-wrong", wrong);
        mark.textContent = wrong ? `\u2192 ${owner}` : "\u2713";
      }
      summary.replaceChildren(el("p", { class: "mlq-verdict", text: result.message }),
        ...data.personas.map((p) => el("p", {}, el("strong", { text: p.name + ": " }), p.summary)),
        el("p", { class: "mlq-link" }, el("a", { href: data.question.href,
          text: "Read more in the book" })));
      summary.className = "mlq-feedback " + (result.correct ? "mlq-right" : "mlq-wrong");
      summary.hidden = false;
    };
    root.replaceChildren(el("ol", { class: "mlq-sort" }, ...rows.map((r) => r.row)),
      el("div", { class: "mlq-actions" },
        el("button", { type: "button", class: "mlq-check", text: "Check", onclick: check })),
      summary);
  }

  const VIEWS = { quiz: renderQuiz, flashcards: renderFlashcards, "persona-sort": renderPersonaSort };

  /* A page with several quiz views (one per section) also shows the total over the page. */
  function pageTotal(containers) {
    const quizzes = containers.filter((c) => c.dataset.mlq === "quiz");
    if (quizzes.length < 2) return;
    const line = el("p", { class: "mlq-page-total", "aria-live": "polite" });
    quizzes[quizzes.length - 1].after(line);
    const update = () => {
      const roots = quizzes.map((c) => c.querySelector(".mlq-root").dataset);
      const sum = (key) => roots.reduce((a, d) => a + Number(d[key] || 0), 0);
      line.textContent = `This page: answered ${sum("answered")} of ${sum("questions")}; ` +
        `score ${sum("score").toFixed(2)} / ${sum("questions")}.`;
    };
    document.addEventListener("mlq-change", update);
    update();
  }

  function start() {
    const containers = Array.from(document.querySelectorAll(".mlq[data-mlq]"));
    containers.forEach((container) => {
      const data = JSON.parse(container.querySelector("script.mlq-data").textContent);
      const root = container.querySelector(".mlq-root");
      VIEWS[data.view](root, data);
      container.classList.add("mlq-ready");
    });
    pageTotal(containers);
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}());
