"""axe-core for the browser tests: installed once from npm, injected into a page, run on it.

axe-core comes from the npm registry (installed once into the build folder, outside git); the
Chromium is Debian's. A page passes when axe finds nothing serious or critical.
"""

import shutil
import subprocess

from browser_support import OUTPUT, builds_locked

AXE_VERSION = "4.14.1"
AXE_FOLDER = OUTPUT / "_build" / "node"
AXE_SCRIPT = AXE_FOLDER / "node_modules" / "axe-core" / "axe.min.js"
BLOCKING = {"serious", "critical"}
# The dark scheme changes colours only (the site has no scheme-only elements), so in it the
# walk of every page runs the rules that read colours; the widget states get every rule.
COLOUR_RULES = ("color-contrast", "link-in-text-block")
# Over file:// axe must not fetch the stylesheets (Chromium forbids it); they serve one rule,
# css-orientation-lock, which the widget states, served over http, run on the same stylesheets.
AUDIT = """async (rules) => {
  const options = {resultTypes: ["violations"], preload: location.protocol !== "file:"};
  if (rules) options.runOnly = {type: "rule", values: rules};
  const result = await axe.run(document, options);
  return result.violations.map((v) => ({id: v.id, impact: v.impact,
    nodes: v.nodes.map((n) => n.target.join(" ")).slice(0, 5), count: v.nodes.length}));
}"""


def install_axe() -> str:
    """Return the path of axe.min.js, installing axe-core from npm into the build folder."""
    # A lock of its own: the PDF test holds the build's for a minute.
    with builds_locked("axe"):  # one test process installs it, the others wait
        if not AXE_SCRIPT.is_file():
            _npm_install_axe()
    return str(AXE_SCRIPT)


def _npm_install_axe() -> None:
    npm = shutil.which("npm")
    assert npm, "npm is needed once to install axe-core (apt-get install npm)"
    AXE_FOLDER.mkdir(parents=True, exist_ok=True)
    result = subprocess.run([npm, "install", "--no-save", "--prefix", str(AXE_FOLDER),
                             f"axe-core@{AXE_VERSION}"], capture_output=True, text=True,
                            timeout=300)
    assert result.returncode == 0 and AXE_SCRIPT.is_file(), result.stderr[-2000:]


def audit(page, script: str, rules=None) -> list[dict]:
    """Every violation axe finds on the page as it is now, with every rule or ``rules`` only."""
    if not page.evaluate("typeof axe !== 'undefined'"):  # once per page load
        page.add_script_tag(path=script)
    return page.evaluate(AUDIT, list(rules) if rules else None)


def blocking(violations: list[dict]) -> list[dict]:
    """The violations that fail a page: serious or critical."""
    return [v for v in violations if v["impact"] in BLOCKING]


def use_scheme(page, scheme: str) -> None:
    """Show the page in a colour scheme, as the theme's switch does, and end the colour
    transitions the switch starts (axe would measure colours half-way)."""
    page.emulate_media(color_scheme=scheme)
    page.evaluate(f"document.documentElement.dataset.theme = '{scheme}'")
    page.evaluate("document.getAnimations().forEach((running) => running.finish())")


def describe(found: dict[str, list]) -> str:
    """One line per blocking violation, under the state it was found in."""
    return "\n".join(f"{state}: {v['id']} ({v['impact']}, {v['count']} nodes) {v['nodes']}"
                     for state, violations in found.items() for v in violations)
