"""Practice that works: model essays wait until the reader has written, and the test set is
used the way the training chapter says."""

import re

from browser_support import ROOT

ESSAYS = sorted((ROOT / "book/essays").glob("essay*.md"))


def test_every_model_essay_is_folded_after_a_write_first_prompt():
    assert len(ESSAYS) == 5
    for essay in ESSAYS:
        text = essay.read_text(encoding="utf-8")
        model = text.split("## A model essay", 1)[1].split("## Self-assessment rubric", 1)[0]
        prompt = model.index("{admonition} Write first")
        folded = re.search(r"````\{admonition\} Show the model essay\n:class: dropdown\n", model)
        assert folded and prompt < folded.start(), f"{essay.name}: essay not folded after prompt"
        assert "](../quiz/index.md)" in model[prompt:folded.start()], \
            f"{essay.name}: the prompt does not link the draft checker"
        # The whole essay sits inside the fold: the fence closes just before the rubric.
        rest = re.sub(r"\(essay\d-rubric\)=\s*$", "", model).rstrip()
        assert rest.endswith("````"), f"{essay.name}: text after the fold"


def test_pipelines_chapter_decides_on_validation_rows_and_tests_once():
    text = (ROOT / "book/platform/pipelines.md").read_text(encoding="utf-8")
    assert 'data="prepare.test"' not in text, "the quality gate must not read the test rows"
    assert 'data="prepare.validation"' in text
    assert text.count('task="binary"') == 1, "the approved model is scored on test rows once"
    assert "{ref}`training-test-once`" in text
    training = (ROOT / "book/lifecycle/training.md").read_text(encoding="utf-8")
    assert "(training-test-once)=" in training
