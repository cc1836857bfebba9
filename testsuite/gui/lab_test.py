#!/usr/bin/python3
"""crmig gui for real: a lab booted by `crmig-lab up --name LAB` (or make
lab-up LAB=...), crmig gui --lab LAB, headless chromium driving it. Not in
make check (it needs the lab): a piece for the suite's lab tier to run.

  1. the page shows both hosts' trees from their crmig serve (mutual TLS),
     with distro and criu from their check;
  2. a workload (a sleep in a session of its own) is dragged from a to b with
     stop-and-copy: the result is ok, the downtime shown is the report's, the
     workload runs on b and is gone from a (ps on both hosts);
  3. another one, pre-copy, is cancelled once round 1 shows: rolled back,
     "cancelled", still running on a, nothing on b;
  4. a third, stop-and-copy, Cancel after the handover: refused ("too late"),
     and it completes on b.
Screenshots in OUT. Prints the GUI -> page latency of migration events.

usage: lab_test.py CRMIG CRMIG_LAB LAB OUT   (exit 0 pass, 1 fail, 77 skip)

With --migrate PID --strategy S --report FILE [--lab-root DIR]
[--crmig-on-hosts PATH] [--keep yes] it does one
thing only, for the suite's via-gui cases (testsuite/runner/via_gui.c): the
process PID is dragged from a to b, the preflight awaited, S picked and
started, and crmig's report as the page got it written to FILE (exit 0
whatever its result: the suite judges it; 1 when the page gave none)."""
import json
import os
import shutil
import subprocess
import sys
import tempfile
import time

try:
    from selenium import webdriver
    from selenium.webdriver.chrome.service import Service
    from selenium.webdriver.common.action_chains import ActionChains
    from selenium.webdriver.common.by import By
    from selenium.webdriver.support.ui import WebDriverWait
except ImportError as e:
    print("SKIP: python3-selenium is missing (%s): ci/install-deps gui" % e)
    sys.exit(77)

ONE = {}
args = sys.argv[1:]
while args and args[0] in ("--migrate", "--strategy", "--report", "--lab-root", "--crmig-on-hosts", "--keep") \
        and len(args) > 1:
    ONE[args[0][2:]] = args[1]
    args = args[2:]
if len(args) != 4 or (ONE and not {"migrate", "strategy", "report"} <= set(ONE)):
    print(__doc__)
    sys.exit(2)
CRMIG, LABCTL, LAB, OUT = args
for exe in ("/usr/bin/chromium", "/usr/bin/chromedriver"):
    if not os.access(exe, os.X_OK):
        print("SKIP: %s is missing: ci/install-deps gui" % exe)
        sys.exit(77)
os.makedirs(OUT, exist_ok=True)
failures = []


def check(cond, what):
    print(("ok     " if cond else "FAIL   ") + what)
    if not cond:
        failures.append(what)
    return cond


def on(host, cmd):
    r = subprocess.run([LABCTL, "--name", LAB, "run", host, "sh", "-c", cmd], capture_output=True, text=True,
                       timeout=120)
    return r.stdout.strip()


def running(host, pid):
    return on(host, "kill -0 %d 2>/dev/null && echo yes || echo no" % pid) == "yes"


if subprocess.run([LABCTL, "--name", LAB, "status"], capture_output=True).returncode != 0:
    print("SKIP: no lab %s here (crmig-lab up --name %s)" % (LAB, LAB))
    sys.exit(77)
tmp = tempfile.mkdtemp(prefix="crmig-gui-lab-")
url_file = os.path.join(tmp, "url")
gui = subprocess.Popen([CRMIG, "gui", "--lab", LAB, "--listen", "127.0.0.1:0", "--url-file", url_file] +
                       (["--lab-root", ONE["lab-root"]] if "lab-root" in ONE else []) +
                       (["--crmig", ONE["crmig-on-hosts"]] if "crmig-on-hosts" in ONE else []),
                       stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
driver = None
try:
    for _ in range(600):
        if os.path.exists(url_file) or gui.poll() is not None:
            break
        time.sleep(0.1)
    if not os.path.exists(url_file):
        raise SystemExit("crmig gui did not start: " + (gui.stdout.read() if gui.poll() is not None else "(silent)"))
    wl = [] if ONE else [int(on("a", "setsid sleep %d </dev/null >/dev/null 2>&1 & echo $!" % (200000 + i)))
                         for i in range(3)]
    opts = webdriver.ChromeOptions()
    opts.binary_location = "/usr/bin/chromium"
    for a in ("--headless=new", "--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--window-size=1500,1050",
              "--user-data-dir=" + os.path.join(tmp, "profile")):
        opts.add_argument(a)
    driver = webdriver.Chrome(service=Service("/usr/bin/chromedriver"), options=opts)
    wait = WebDriverWait(driver, 180)  # TCG guests are slow
    text = lambda i: driver.find_element(By.ID, i).text
    sel = '.lane[data-host="%s"] .node[data-pid="%d"]'

    def act(css, fn):
        # the trees are redrawn as the hosts report: find the node again on a stale reference
        for _ in range(20):
            try:
                return fn(driver.find_element(By.CSS_SELECTOR, css))
            except Exception:
                time.sleep(0.3)
        raise RuntimeError("cannot act on " + css)

    def migrate(pid, strategy, drag):
        wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, sel % ("a", pid)))
        if drag:
            act(sel % ("a", pid), lambda n: driver.execute_script("""
                const src = arguments[0], lane = document.querySelector('.lane[data-host="b"] .tree'), dt = new DataTransfer();
                for (const [el, t] of [[src, 'dragstart'], [lane, 'dragover'], [lane, 'drop'], [src, 'dragend']])
                    el.dispatchEvent(new DragEvent(t, {bubbles: true, cancelable: true, dataTransfer: dt}));""", n))
        else:
            act(sel % ("a", pid), lambda n: (n.click(), n.send_keys("m")))
        wait.until(lambda d: d.find_element(By.ID, "mig-dialog").get_attribute("open") is not None)
        # the preflight: both hosts run crmig check again; Migrate waits for it
        wait.until(lambda d: d.find_element(By.ID, "dlg-preflight").get_attribute("data-state") in ("done", "failed", "timeout"))
        check(driver.find_element(By.ID, "dlg-preflight").get_attribute("data-state") == "done",
              "preflight: " + text("dlg-preflight").replace("\n", " / "))
        if ONE:
            driver.save_screenshot(os.path.join(OUT, "gui-dialog.png"))
        driver.find_element(By.CSS_SELECTOR, "input[name=strategy][value=%s]" % strategy).click()
        if ONE.get("keep") == "yes":
            driver.find_element(By.ID, "opt-keep").click()
        driver.find_element(By.ID, "mig-start").click()

    def result():
        wait.until(lambda d: d.find_element(By.ID, "result").is_displayed() and "Result:" in text("res-title"))
        return text("res-title")

    driver.get(open(url_file).read().strip())
    if ONE:
        pid = int(ONE["migrate"])
        t0 = time.time()
        migrate(pid, ONE["strategy"], drag=True)
        res = result()
        print("       %s after %.1f s in the page" % (res, time.time() - t0))
        driver.execute_script("document.getElementById('result').scrollIntoView()")
        driver.save_screenshot(os.path.join(OUT, "gui-result.png"))
        # crmig's report as the page got it (the GUI's own state, with the page's cookie)
        state = driver.execute_script("return fetch('/api/state', {credentials: 'same-origin'}).then((r) => r.json())")
        migs = [m for m in state.get("migrations", []) if m.get("target") == {"pid": pid}]
        rep = migs[-1].get("report") if migs else None
        if check(isinstance(rep, dict), "the page has crmig's report"):
            with open(ONE["report"], "w") as f:
                json.dump(rep, f)
        raise SystemExit(0 if isinstance(rep, dict) else 1)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, sel % ("a", wl[0])))
    # in one script: the lanes are redrawn whenever a host's tree changes
    lanes = driver.execute_script("return [...document.querySelectorAll('.lane')].map((l) => l.innerText)")
    check(len(lanes) == 2 and all("criu" in l and "kernel" in l for l in lanes), "both hosts' lanes with their check")
    act(sel % ("a", wl[0]), lambda n: ActionChains(driver).move_to_element(n).perform())
    wait.until(lambda d: text("info-id") == str(wl[0]))
    check(text("info-name") == "sleep" and text("info-children") == "none", "hover: Name / ID / Children")
    driver.save_screenshot(os.path.join(OUT, "lab-01-trees.png"))

    migrate(wl[0], "stop", drag=True)
    res = result()
    shown = driver.find_element(By.ID, "res-downtime").get_attribute("data-ms")
    check(res == "Result: ok" and float(shown) > 0, "stop a -> b: %s, downtime %s ms" % (res, shown))
    time.sleep(1)
    check(running("b", wl[0]) and not running("a", wl[0]), "the workload runs on b, gone from a")
    driver.save_screenshot(os.path.join(OUT, "lab-02-migrated.png"))

    migrate(wl[1], "pre", drag=False)
    wait.until(lambda d: d.find_elements(By.CSS_SELECTOR, '#timeline .phase[data-name="round-1"]'))
    driver.find_element(By.ID, "cancel-btn").click()
    res = result()
    check(res == "Result: rolled-back" and "cancelled" in text("res-error"),
          "cancel before the handover: %s (%s)" % (res, text("res-error")))
    check(running("a", wl[1]) and not running("b", wl[1]), "the workload still runs on a only")
    driver.save_screenshot(os.path.join(OUT, "lab-03-cancelled.png"))

    migrate(wl[2], "stop", drag=False)
    wait.until(lambda d: "late" in d.find_element(By.ID, "cancel-btn").get_attribute("class"))
    driver.find_element(By.ID, "cancel-btn").click()
    wait.until(lambda d: "refused" in d.find_element(By.ID, "cancel-msg").get_attribute("class"))
    check("too late to cancel" in text("cancel-msg"), "cancel after the handover refused: " + text("cancel-msg"))
    driver.save_screenshot(os.path.join(OUT, "lab-04-late-cancel.png"))
    check(result() == "Result: ok", "and that migration completes")
    time.sleep(1)
    check(running("b", wl[2]) and not running("a", wl[2]), "on b")
    lat = sorted(driver.execute_script("return window.crmigLatency"))
    if lat:
        print("       latency GUI -> page: median %.1f ms, max %.1f ms over %d events"
              % (lat[len(lat) // 2], lat[-1], len(lat)))
    for h in ("a", "b"):
        on(h, "for p in %s; do kill $p 2>/dev/null; done; true" % " ".join(map(str, wl)))
except Exception as e:
    failures.append(repr(e))
    print("FAIL   %r" % e)
    if driver:
        driver.save_screenshot(os.path.join(OUT, "lab-failed.png"))
finally:
    if driver:
        driver.quit()
    gui.terminate()
    try:
        gui.communicate(timeout=20)
    except subprocess.TimeoutExpired:
        gui.kill()
    shutil.rmtree(tmp, ignore_errors=True)
print("%d failed" % len(failures))
sys.exit(1 if failures else 0)
