/* mlcycle quiz pages: renders the question banks embedded by the Sphinx extension
 * (mlcycle_ref/quiz/sphinx_ext.py) and checks answers in the browser with quiz-check.js.
 * Three views: a quiz, glossary flashcards (Leitner boxes in localStorage) and a personas
 * sorting exercise. No network, no kernel.
 */
(function () {
  "use strict";

  const checker = window.MLQCheck.makeChecker(window.MLQ_LEXICON);
  const STORE_KEY = "mlcycle.flashcards.v1";
  const INTERVALS = { 1: 0, 2: 1, 3: 3, 4: 7, 5: 14 };
  const BOXES = 5;

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

  let uid = 0;
  const nextId = (prefix) => `${prefix}-${++uid}`;

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
    return { node, read };
  }

  function textInput(q, multiline, labelledBy) {
    const node = multiline
      ? el("textarea", { rows: q.kind === "essay" ? 10 : 4, class: "mlq-text",
        "aria-labelledby": labelledBy, placeholder: "Your answer, in full sentences" })
      : el("input", { type: "text", class: "mlq-line", "aria-labelledby": labelledBy,
        inputmode: q.kind === "numeric" ? "decimal" : null });
    const wrap = el("div", { class: "mlq-input-wrap" }, node,
      q.kind === "numeric" && q.unit ? el("span", { class: "mlq-unit", text: " " + q.unit }) : null);
    return { node: wrap, read: () => node.value };
  }

  function matchingInput(q) {
    const rights = [...new Set(q.pairs.map(([, right]) => right))].sort();
    const rows = q.pairs.map(([left]) => {
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
    return { node: el("div", { class: "mlq-matching" }, ...rows.map((r) => r[2])), read };
  }

  function orderingInput(q) {
    let order = shuffled(q.items);
    while (order.length > 1 && order.every((item, i) => item === q.items[i])) {
      order = shuffled(q.items);
    }
    const list = el("ol", { class: "mlq-ordering" });
    const draw = () => {
      list.replaceChildren(...order.map((item, i) => el("li", {},
        el("span", { text: item }),
        el("button", { type: "button", class: "mlq-move", "aria-label": `Move "${item}" up`,
          disabled: i === 0 ? "disabled" : null, onclick: () => move(i, -1) }, "\u2191"),
        el("button", { type: "button", class: "mlq-move", "aria-label": `Move "${item}" down`,
          disabled: i === order.length - 1 ? "disabled" : null, onclick: () => move(i, 1) },
        "\u2193"))));
    };
    const move = (i, step) => {
      [order[i], order[i + step]] = [order[i + step], order[i]];
      draw();
    };
    draw();
    return { node: list, read: () => order.slice() };
  }

  function inputFor(q, labelledBy) {
    const choices = q.choices && q.choices.map((c) => [c, c]);
    switch (q.kind) {
      case "single": return choiceInput(q, "radio", choices, labelledBy);
      case "multiple": return choiceInput(q, "checkbox", choices, labelledBy);
      case "truefalse":
        return choiceInput(q, "radio", [["true", "True"], ["false", "False"]], labelledBy);
      case "matching": return matchingInput(q);
      case "ordering": return orderingInput(q);
      case "short": case "essay": return textInput(q, true, labelledBy);
      default: return textInput(q, false, labelledBy);
    }
  }

  /* ---------- feedback ---------- */

  function showFeedback(box, q, result) {
    const rubric = q.kind === "short" || q.kind === "essay";
    const verdict = result.message + (rubric ? ` (score ${result.score.toFixed(2)})` : "");
    box.replaceChildren(...[
      el("p", { class: "mlq-verdict", text: verdict }),
      rubric && result.missed.length ? el("p", { text: "Missing:" }) : null,
      rubric && result.missed.length
        ? el("ul", { class: "mlq-missed" }, ...result.missed.map((m) => el("li", { text: m })))
        : null,
      el("p", { class: "mlq-explanation", text: q.explanation }),
      el("p", { class: "mlq-link" }, el("a", { href: q.href, text: "Read more in the book" })),
    ].filter(Boolean));
    box.className = "mlq-feedback " + (result.correct ? "mlq-right" : "mlq-wrong");
    box.hidden = false;
  }

  function renderQuestion(q, number, onChecked) {
    const promptId = nextId("mlq-prompt");
    const input = inputFor(q, promptId);
    const feedback = el("div", { class: "mlq-feedback", "aria-live": "polite", hidden: "hidden" });
    const model = q.model_answer
      ? el("details", { class: "mlq-model", hidden: "hidden" },
        el("summary", { text: "A model answer" }), el("p", { text: q.model_answer }))
      : null;
    const check = () => {
      let result;
      try {
        result = checker.check(q, input.read());
      } catch (error) {
        feedback.replaceChildren(el("p", { text: error instanceof checker.ResponseError
          ? `I could not read that: ${error.message}.` : "Answer every part first." }));
        feedback.className = "mlq-feedback";
        feedback.hidden = false;
        return;
      }
      showFeedback(feedback, q, result);
      if (model) model.hidden = false;
      onChecked(q.id, result);
    };
    return el("div", { class: `mlq-question mlq-${q.kind}`, id: `mlq-${q.id}`,
      "data-question": q.id },
    el("p", { class: "mlq-prompt", id: promptId },
      el("span", { class: "mlq-number", text: `${number}. ` }),
      q.prompt),
    input.node,
    el("div", { class: "mlq-actions" },
      el("button", { type: "button", class: "mlq-check", onclick: check, text: "Check" })),
    feedback, model);
  }

  function renderQuiz(root, data) {
    const scores = {};
    const total = el("p", { class: "mlq-total", "aria-live": "polite" });
    const update = () => {
      const answered = Object.keys(scores).length;
      const sum = Object.values(scores).reduce((a, b) => a + b, 0);
      total.textContent = `Answered ${answered} of ${data.questions.length}; ` +
        `score ${sum.toFixed(2)} / ${data.questions.length}.`;
    };
    update();
    root.replaceChildren(
      ...data.questions.map((q, n) => renderQuestion(q, n + 1, (id, result) => {
        scores[id] = result.score;
        update();
      })), total);
  }

  /* ---------- flashcards ---------- */

  function today(offsetDays) {
    const day = new Date();
    day.setDate(day.getDate() + (offsetDays || 0));
    return day.toISOString().slice(0, 10);
  }

  function loadCards() {
    try {
      const stored = JSON.parse(window.localStorage.getItem(STORE_KEY) || "{}");
      return stored && stored.cards ? stored : { cards: {} };
    } catch (error) {
      return { cards: {} };
    }
  }

  function saveCards(state) {
    try {
      window.localStorage.setItem(STORE_KEY, JSON.stringify(state));
    } catch (error) {
      /* Private browsing may refuse storage: the drill still works for this visit. */
    }
  }

  function record(state, id, right) {
    const card = state.cards[id] || { box: 1, seen: 0, right: 0 };
    card.box = right ? Math.min(card.box + 1, BOXES) : 1;
    card.due = today(INTERVALS[card.box]);
    card.seen += 1;
    card.right += right ? 1 : 0;
    state.cards[id] = card;
    saveCards(state);
  }

  function nextCard(state, order) {
    const now = today();
    const known = order.filter((id) => state.cards[id]);
    const due = known.filter((id) => state.cards[id].due <= now).sort((a, b) =>
      state.cards[a].box - state.cards[b].box || state.cards[a].due.localeCompare(state.cards[b].due));
    const fresh = order.filter((id) => !state.cards[id]);
    const later = known.filter((id) => state.cards[id].due > now).sort((a, b) =>
      state.cards[a].due.localeCompare(state.cards[b].due));
    return due.concat(fresh, later)[0];
  }

  function renderFlashcards(root, data) {
    const state = loadCards();
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
    const answer = (id, right) => {
      record(state, id, right);
      drawStats();
      draw();
    };
    const draw = () => {
      const term = terms[nextCard(state, order)];
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
          onclick: () => { back.hidden = false; rate.hidden = false; reveal.hidden = true; } });
        card.replaceChildren(el("p", { class: "mlq-term", text: term.term }), reveal, back, rate);
        return;
      }
      const q = questions[`${term.id}-term`];
      const typed = el("input", { type: "text", class: "mlq-line", "aria-label": "The term" });
      const result = el("p", { class: "mlq-verdict", "aria-live": "polite" });
      const next = el("button", { type: "button", class: "mlq-next", text: "Next card",
        hidden: "hidden", onclick: draw });
      const submit = el("button", { type: "button", class: "mlq-check", text: "Check",
        onclick: () => {
          const verdict = checker.check(q, typed.value);
          result.textContent = verdict.message;
          record(state, term.id, verdict.correct);
          drawStats();
          submit.hidden = true;
          next.hidden = false;
          back.hidden = false;
        } });
      card.replaceChildren(el("p", { class: "mlq-definition", text: term.definition }),
        typed, el("div", { class: "mlq-actions" }, submit, next), result, back);
    };
    const reset = el("button", { type: "button", class: "mlq-reset", text: "Forget my progress",
      onclick: () => { state.cards = {}; saveCards(state); drawStats(); draw(); } });
    mode.addEventListener("change", draw);
    root.replaceChildren(el("div", { class: "mlq-toolbar" }, mode, reset), stats, card);
    drawStats();
    draw();
  }

  /* ---------- personas sorting ---------- */

  function renderPersonaSort(root, data) {
    const names = data.personas.map((p) => p.name);
    const rows = data.items.map((item) => {
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

  function start() {
    document.querySelectorAll(".mlq[data-mlq]").forEach((container) => {
      const data = JSON.parse(container.querySelector("script.mlq-data").textContent);
      const root = container.querySelector(".mlq-root");
      VIEWS[data.view](root, data);
      container.classList.add("mlq-ready");
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", start);
  else start();
}());
