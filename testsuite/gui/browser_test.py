#!/usr/bin/python3
"""Browser tests of crmig gui, headless chromium driven by selenium, against
`crmig gui --replay FIXTURE` (no host, no QEMU): the trees render, hovering
shows the talk's Name / ID / Children, a drag opens the migrate dialog, the
phases appear while it runs, a cancel after the handover is refused, the
downtime shown is the report's, a cancel before the handover rolls back,
the downtime chart gets one bar per migration and exports. Screenshots go to
OUT (make check: build/check/gui/).

usage: browser_test.py CRMIG FIXTURE OUT    (exit 0 pass, 1 fail, 77 skip)"""
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
import time

SPEED = 2.0


def skip(why):
    print("SKIP: " + why)
    sys.exit(77)


try:
    from selenium import webdriver
    from selenium.common.exceptions import TimeoutException
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.common.keys import Keys
    from selenium.webdriver.support.ui import Select, WebDriverWait
except ImportError as e:
    skip("python3-selenium is missing (%s): ci/install-deps gui" % e)

if len(sys.argv) != 4:
    print(__doc__)
    sys.exit(2)
CRMIG, FIXTURE, OUT = sys.argv[1:]
for exe in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
    if not os.access(exe, os.X_OK):
        skip("%s is missing: ci/install-deps gui" % exe)
os.makedirs(OUT, exist_ok=True)
fixture = json.load(open(FIXTURE))
report = {m["strategy"]: m["events"][-1]["report"] for m in fixture["migrations"] if "target" not in m}
failed = [m["events"][-1]["report"] for m in fixture["migrations"] if m.get("target") == {"lxc": "web1"}][0]
failures = []
checks = 0


def check(cond, what):
    global checks
    checks += 1
    print(("ok     " if cond else "FAIL   ") + what)
    if not cond:
        failures.append(what)
    return cond


tmp = tempfile.mkdtemp(prefix="crmig-gui-test-")
url_file = os.path.join(tmp, "url")
gui = subprocess.Popen([CRMIG, "gui", "--replay", FIXTURE, "--speed", str(SPEED), "--listen", "127.0.0.1:0",
                        "--url-file", url_file], stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
driver = None
try:
    for _ in range(100):
        if os.path.exists(url_file) or gui.poll() is not None:
            break
        time.sleep(0.05)
    if not os.path.exists(url_file):
        print(gui.stdout.read() if gui.poll() is not None else "")
        raise SystemExit("crmig gui did not start")
    url = open(url_file).read().strip()

    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage",
              "--window-size=1500,1050", "--user-data-dir=" + os.path.join(tmp, "profile")):
        opts.add_argument(a)
    opts.add_experimental_option("prefs", {"download.default_directory": os.path.abspath(OUT),
                                           "download.prompt_for_download": False})
    opts.set_capability("goog:loggingPrefs", {"browser": "ALL"})
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    driver.set_page_load_timeout(20)
    wait = WebDriverWait(driver, 20)

    def shot(name):
        path = os.path.join(OUT, name)
        driver.save_screenshot(path)
        print("       screenshot " + path)

    def preflight_done():
        wait.until(lambda d: d.find_element(By.ID, "dlg-preflight").get_attribute("data-state") == "done")

    def node(host, pid):
        return driver.find_element(By.CSS_SELECTOR, '.lane[data-host="%s"] .node[data-pid="%d"]' % (host, pid))

    def text(id_):
        return driver.find_element(By.ID, id_).text

    def attrs(selector, attr):
        # in one script: the page redraws the timeline ten times a second
        return driver.execute_script("return [...document.querySelectorAll(arguments[0])]"
                                     ".map((e) => e.getAttribute(arguments[1]))", selector, attr)

    def drag(src, host):
        # HTML5 drag and drop: selenium's drag gestures do not fire it in chromium.
        driver.execute_script("""
            const src = arguments[0], lane = document.querySelector('.lane[data-host="' + arguments[1] + '"] .tree');
            const dt = new DataTransfer();
            const fire = (el, type) => el.dispatchEvent(new DragEvent(type, {bubbles: true, cancelable: true, dataTransfer: dt}));
            fire(src, 'dragstart'); fire(lane, 'dragenter'); fire(lane, 'dragover'); fire(lane, 'drop'); fire(src, 'dragend');
        """, src, host)

    driver.get(url)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '.lane[data-host="b"] .node'))
    check(driver.execute_script("return location.search") == "", "the token leaves the address bar")
    lanes = driver.find_elements(By.CSS_SELECTOR, ".lane")
    check(len(lanes) == len(fixture["hosts"]), "one lane per host (%d)" % len(lanes))
    n_a = len(driver.find_elements(By.CSS_SELECTOR, '.lane[data-host="a"] .node'))
    check(n_a >= 10, "host a's tree renders (%d nodes)" % n_a)
    check("6.12.117" in lanes[0].text and "criu 4.1.1" in lanes[0].text, "the lane shows kernel and criu")
    check(len(driver.find_elements(By.CSS_SELECTOR, '.lane[data-host="a"] .strats[data-to="b"] .strat:not(.off)')) == 4,
          "all four strategies allowed for a -> b")
    off = attrs('.lane[data-host="a"] .strats[data-to="c"] .strat.off', "data-strategy")
    row = driver.find_element(By.CSS_SELECTOR, '.lane[data-host="a"] .strats[data-to="c"]').text
    check(off == ["pre", "hybrid"] and row.count("soft-dirty") == 1,
          "a -> c: pre and hybrid off, their one reason said once (%s: %s)" % (off, row))

    # the talk's table: Name / ID / Children ("polkitd 601 none" there; 250 here)
    ActionChains(driver).move_to_element(node("a", 250)).perform()
    wait.until(lambda d: text("info-id") == "250")
    check(text("info-name") == "polkitd" and text("info-children") == "none",
          "hover shows Name / ID / Children: %s / %s / %s" % (text("info-name"), text("info-id"), text("info-children")))
    check(text("info-user") == "polkitd" and text("info-threads") == "4", "and user, threads")
    ActionChains(driver).move_to_element(node("a", 702)).perform()
    wait.until(lambda d: text("info-id") == "702")
    check(text("info-children") == "httpd 731, sh 733", "a container's init lists its children: " + text("info-children"))
    check("web1" in text("info-container"), "and names its container")
    ActionChains(driver).move_to_element(node("a", 233)).perform()
    wait.until(lambda d: text("info-id") == "233")
    check("crmig itself" in text("info-migratable"), "crmig itself is not migratable: " + text("info-migratable"))
    ActionChains(driver).move_to_element(node("a", 601)).perform()
    wait.until(lambda d: text("info-id") == "601")
    shot("01-hover.png")

    # keyboard: select, move down, and 'm' opens the dialog
    node("a", 250).click()
    node("a", 250).send_keys(Keys.ARROW_UP)
    check(driver.execute_script("return document.activeElement.dataset.pid") != "250", "arrow keys move the focus")

    # a drag onto host b opens the dialog
    drag(node("a", 601), "b")
    wait.until(lambda d: d.find_element(By.ID, "mig-dialog").get_attribute("open") is not None)
    check("memory" in text("dlg-title"), "the drag opens the dialog: " + text("dlg-title"))
    check(driver.find_element(By.ID, "mig-dest").get_attribute("value") == "b", "with the lane dropped on")
    preflight_done()
    check("every strategy works from a to b" in text("dlg-preflight") and "a: criu 4.1.1" in text("dlg-preflight"),
          "the preflight ran crmig check on both: " + text("dlg-preflight").replace("\n", " / "))
    driver.find_element(By.CSS_SELECTOR, 'input[name=strategy][value=post]').click()
    shot("02-dialog.png")
    driver.find_element(By.ID, "mig-start").click()
    wait.until(lambda d: d.find_element(By.ID, "mig-dialog").get_attribute("open") is None)

    # phases appear as it runs; then the handover, then a cancel is refused
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#timeline .phase[data-name="transfer"]'))
    check(True, "the transfer phase appears while it runs")
    wait.until(lambda d: "late" in d.find_element(By.ID, "cancel-btn").get_attribute("class"))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#timeline .phase[data-name="lazy"]'))
    names = attrs("#timeline .phase", "data-name")
    check({"frozen", "transfer", "restore", "lazy"} <= set(names), "freeze, transfer, restore, lazy shown: %s" % names)
    check("too late" in text("cancel-btn").lower(), "after the handover the button says why: " + text("cancel-btn"))
    driver.find_element(By.ID, "cancel-btn").click()
    wait.until(lambda d: "refused" in d.find_element(By.ID, "cancel-msg").get_attribute("class"))
    check("too late to cancel" in text("cancel-msg"), "a late cancel is refused: " + text("cancel-msg"))
    shot("03-cancel-refused.png")

    # the result equals the report
    wait.until(lambda d: d.find_element(By.ID, "result").is_displayed())
    want = report["post"]["downtime_ms"]
    shown = driver.find_element(By.ID, "res-downtime")
    check(float(shown.get_attribute("data-ms")) == want and text("res-downtime") == "%g ms" % want,
          "the downtime shown (%s) is the report's downtime_ms (%g)" % (text("res-downtime"), want))
    check(text("res-lazy") == "%g ms" % report["post"]["lazy_ms"], "and the lazy window: " + text("res-lazy"))
    check(text("frozen-clock") == "%g ms" % want, "the clock ends at the downtime: " + text("frozen-clock"))
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '.lane[data-host="b"] .node[data-pid="30412"]'))
    check(not driver.find_elements(By.CSS_SELECTOR, '.lane[data-host="a"] .node[data-pid="601"]'),
          "afterwards the workload is on b (pid 30412) and gone from a")
    shot("04-result.png")

    # back with pre-copy, by keyboard and the Migrate to... button; cancelled before the handover
    node("b", 30412).click()
    node("b", 30412).send_keys("m")
    wait.until(lambda d: d.find_element(By.ID, "mig-dialog").get_attribute("open") is not None)
    preflight_done()
    driver.find_element(By.CSS_SELECTOR, 'input[name=strategy][value=pre]').click()
    driver.find_element(By.ID, "mig-start").click()
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#timeline .phase[data-name="round-1"]'))
    check(True, "pre-copy rounds show as bars")
    driver.find_element(By.ID, "cancel-btn").click()
    wait.until(lambda d: "Result" in text("res-title") and d.find_element(By.ID, "result").is_displayed())
    check(text("res-title") == "Result: rolled-back" and "cancelled" in text("res-error"),
          "a cancel before the handover rolls back: %s, %s" % (text("res-title"), text("res-error")))
    check(text("clock-label") == "frozen for", "and the clock says frozen, not downtime: " + text("clock-label"))
    check(driver.find_elements(By.CSS_SELECTOR, '.lane[data-host="b"] .node[data-pid="30412"]') != [],
          "and the workload stays where it was")
    shot("05-rolled-back.png")

    # once more with pre to the end: the chart has two bars, grouped by strategy
    node("b", 30412).click()
    driver.find_element(By.ID, "migrate-btn").click()
    wait.until(lambda d: d.find_element(By.ID, "mig-dialog").get_attribute("open") is not None)
    preflight_done()
    driver.find_element(By.CSS_SELECTOR, 'input[name=strategy][value=pre]').click()
    driver.find_element(By.ID, "mig-start").click()
    wait.until(lambda d: len(d.find_elements(By.CSS_SELECTOR, "#chart .bar")) == 2)
    bars = {k: float(v) for k, v in zip(attrs("#chart .bar", "data-strategy"), attrs("#chart .bar", "data-ms"))}
    check(bars == {"post": report["post"]["downtime_ms"], "pre": report["pre"]["downtime_ms"]},
          "the downtime chart has one bar per migration: %s" % bars)
    csv = driver.execute_script("return window.crmigExport.csv()").strip().splitlines()
    check(len(csv) == 4 and csv[0].startswith("id,strategy") and ",rolled-back," in csv[2],
          "the CSV export lists the three migrations")
    driver.find_element(By.ID, "export-csv").click()
    driver.find_element(By.ID, "export-svg").click()
    for f in ("crmig-downtime.csv", "crmig-downtime.svg"):
        path = os.path.join(OUT, f)
        for _ in range(50):
            if os.path.exists(path):
                break
            time.sleep(0.1)
        check(os.path.exists(path), "the export button downloads " + f)
    svg = open(os.path.join(OUT, "crmig-downtime.svg")).read() if os.path.exists(os.path.join(OUT, "crmig-downtime.svg")) else ""
    check("<svg" in svg and 'data-strategy="pre"' in svg, "the SVG export is the chart")
    driver.execute_script("document.getElementById('chart-box').scrollIntoView()")
    shot("06-chart.png")
    driver.execute_script("window.scrollTo(0, 0)")
    shot("07-overview.png")

    # a failed migration: crmig's reason, both hosts' log excerpts, the known bug, the bundle
    node("a", 702).click()
    node("a", 702).send_keys("m")
    wait.until(lambda d: d.find_element(By.ID, "mig-dialog").get_attribute("open") is not None)
    check("web1" in text("dlg-title"), "the container's dialog: " + text("dlg-title"))
    preflight_done()
    # to host c the preflight's verdict disables pre and hybrid, with the reason
    Select(driver.find_element(By.ID, "mig-dest")).select_by_value("c")
    preflight_done()
    pf = text("dlg-preflight")
    disabled = [e.get_attribute("value") for e in driver.find_elements(By.CSS_SELECTOR, "input[name=strategy]:disabled")]
    why = driver.find_element(By.XPATH, "//input[@name='strategy'][@value='pre']/..").text
    check(disabled == ["pre", "hybrid"] and "soft-dirty" in why and "pre, hybrid cannot" in pf and "c: criu" in pf,
          "preflight to c: %s disabled (%s): %s" % (disabled, why, pf.replace("\n", " / ")))
    shot("09-preflight.png")
    Select(driver.find_element(By.ID, "mig-dest")).select_by_value("b")
    preflight_done()
    driver.find_element(By.CSS_SELECTOR, 'input[name=strategy][value=stop]').click()
    driver.find_element(By.ID, "mig-start").click()
    wait.until(lambda d: d.find_element(By.ID, "result").is_displayed() and text("res-title") == "Result: failed")
    check("liblxc dump exited 1" in text("res-error"), "the failure shows crmig's reason: " + text("res-error")[:60])
    check(text("clock-label") == "frozen for" and text("frozen-clock") == "never",
          "not migrated: no downtime on the clock (%s %s)" % (text("clock-label"), text("frozen-clock")))
    check(all(text(i).startswith("–") for i in ("res-downtime", "res-lazy", "res-bbr")),
          "not migrated: no downtime, lazy window or bytes before resume in the result (%s / %s / %s)"
          % (text("res-downtime"), text("res-lazy"), text("res-bbr")))
    bug = driver.find_element(By.ID, "res-bug")
    check(bug.is_displayed() and failed["known_bug"] in bug.text and bug.get_attribute("data-bug") == "lxc#4643",
          "and the known upstream bug: " + bug.text)
    shown = {side: driver.execute_script(
        "return [...document.querySelectorAll('#res-logs .excerpt[data-side=\"' + arguments[0] + '\"] pre')]"
        ".map((p) => p.textContent)", side) for side in ("source", "destination")}
    for side in ("source", "destination"):
        want = [l for f in failed["criu_log_excerpts"][side] for l in f["lines"]]
        got = "\n".join(shown[side]).splitlines()
        check(want and got == want, "the %s's criu log excerpt is shown (%d of %d lines)" % (side, len(got), len(want)))
    check(failed["bundle"]["dir"] in text("res-bundle") and "10.77.0.11" in text("res-bundle"),
          "and where the repro bundle is: " + text("res-bundle"))
    check(driver.find_elements(By.CSS_SELECTOR, '.lane[data-host="a"] .node[data-pid="702"]') != [],
          "the container stays on a")
    check(len(driver.find_elements(By.CSS_SELECTOR, "#chart .bar")) == 2 and "2 not migrated" in text("chart-note"),
          "the chart gets no bar for it and counts it: " + text("chart-note"))
    driver.execute_script("document.getElementById('result').scrollIntoView()")
    shot("08-failed.png")

    lat = sorted(driver.execute_script("return window.crmigLatency"))
    if check(len(lat) > 20, "migration events reached the page (%d)" % len(lat)):
        print("       latency GUI -> page: median %.1f ms, max %.1f ms over %d events"
              % (lat[len(lat) // 2], lat[-1], len(lat)))
    # nothing the Content-Security-Policy refused, no script error
    logs = [l for l in driver.get_log("browser") if l["level"] in ("SEVERE", "WARNING")]
    bad = [l["message"] for l in logs if "Content Security Policy" in l["message"] or "Uncaught" in l["message"]]
    check(not bad, "no CSP violation or script error in the console %s" % bad[:3])
except Exception as e:  # a timeout or a broken page: a failure with a screenshot, never a traceback only
    what = "timed out waiting (%s)" % (e.msg or "a condition") if isinstance(e, TimeoutException) else repr(e)
    failures.append(what)
    print("FAIL   " + what)
    if driver:
        driver.save_screenshot(os.path.join(OUT, "failed.png"))
        print("       screenshot " + os.path.join(OUT, "failed.png"))
finally:
    if driver:
        driver.quit()
    gui.terminate()
    try:
        out, _ = gui.communicate(timeout=10)
    except subprocess.TimeoutExpired:
        gui.kill()
        out, _ = gui.communicate()
        failures.append("crmig gui did not stop on SIGTERM")
    if gui.returncode not in (0, None):
        failures.append("crmig gui exited %s" % gui.returncode)
    shutil.rmtree(tmp, ignore_errors=True)

print("%d checks, %d failed" % (checks, len(failures)))
for f in failures:
    print("  failed: " + f)
sys.exit(1 if failures else 0)
