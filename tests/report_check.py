#!/usr/bin/env python3
"""Renders an HTML report in headless Chromium and checks it.

usage: report_check.py CHROMIUM PAGE.html SCREENSHOT.png [WIDTH]

Talks to Chromium over its DevTools protocol on a pipe
(--remote-debugging-pipe: commands on fd 3, replies on fd 4, each message
JSON ended by a NUL byte), with the Python standard library alone. Fails
(exit 1, saying why) on any console error, uncaught exception, log entry
of level error, or request for anything but the page itself; on a chart
(svg.chart) without a title, both axis labels or a data mark; and when
the whole run takes over 30 s. Writes a full-page PNG screenshot.
"""
import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

TIMEOUT_S = 30

# What the page must hold, evaluated in it: one entry per chart.
CHECK_JS = r"""
(() => {
  const charts = [...document.querySelectorAll('svg.chart')].map((svg, i) => {
    const text = sel => { const e = svg.querySelector(sel); return e ? e.textContent.trim() : ''; };
    const marks = [...svg.querySelectorAll('.mark')];
    return {
      index: i,
      title: text('.chart-title'),
      x_label: text('.axis-label.x'),
      y_label: text('.axis-label.y'),
      marks: marks.length,
      marks_without_tooltip: marks.filter(m => !m.querySelector('title')).length,
    };
  });
  return JSON.stringify({
    charts,
    scripts: document.querySelectorAll('script').length,
    skips: [...document.querySelectorAll('.skip')].map(e => e.textContent),
    title: document.title,
  });
})()
"""


def pipe_fds(to_r, from_w):
    """In the child: the command pipe on fd 3, the reply pipe on fd 4
    (where Chromium expects them), by way of fds above both so that neither
    is closed by the other's dup2."""
    hi_r, hi_w = os.dup(to_r), os.dup(from_w)
    os.dup2(hi_r, 3)
    os.dup2(hi_w, 4)
    os.set_inheritable(3, True)
    os.set_inheritable(4, True)


class Browser:
    def __init__(self, chromium, width):
        self.profile = tempfile.mkdtemp(prefix="hwa_report_check.")
        to_r, self.to_w = os.pipe()  # commands: we write, Chromium reads fd 3
        self.from_r, from_w = os.pipe()  # replies: Chromium writes fd 4
        self.proc = subprocess.Popen(
            [chromium, "--headless=new", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--user-data-dir=" + self.profile, "--remote-debugging-pipe",
             "--hide-scrollbars", "--window-size=%d,900" % width, "about:blank"],
            close_fds=False, stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=lambda: pipe_fds(to_r, from_w))
        os.close(to_r)
        os.close(from_w)
        self.buf = b""
        self.next_id = 0
        self.events = []
        self.deadline = time.monotonic() + TIMEOUT_S

    def close(self):
        try:
            self.proc.kill()
            self.proc.wait(5)
        except Exception:
            pass
        shutil.rmtree(self.profile, ignore_errors=True)

    def _read_message(self):
        while b"\0" not in self.buf:
            left = self.deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("Chromium did not answer within %d s" % TIMEOUT_S)
            ready, _, _ = select.select([self.from_r], [], [], left)
            if not ready:
                continue
            chunk = os.read(self.from_r, 1 << 20)
            if not chunk:
                raise RuntimeError("Chromium closed its pipe (exit %s)" % self.proc.poll())
            self.buf += chunk
        msg, self.buf = self.buf.split(b"\0", 1)
        return json.loads(msg)

    def send(self, method, params=None, session=None):
        self.next_id += 1
        msg = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            msg["sessionId"] = session
        os.write(self.to_w, json.dumps(msg).encode() + b"\0")
        while True:
            m = self._read_message()
            if m.get("id") == self.next_id:
                if "error" in m:
                    raise RuntimeError("%s: %s" % (method, m["error"]))
                return m.get("result", {})
            self.events.append(m)

    def wait_event(self, method):
        while True:
            for i, m in enumerate(self.events):
                if m.get("method") == method:
                    return self.events.pop(i)
            self.events.append(self._read_message())


def problems_in(events, page_url):
    bad = []
    for m in events:
        meth, p = m.get("method"), m.get("params", {})
        if meth == "Runtime.exceptionThrown":
            bad.append("exception: %s" % p.get("exceptionDetails", {}).get("text"))
        elif meth == "Runtime.consoleAPICalled" and p.get("type") == "error":
            bad.append("console error: %s" % [a.get("value", a.get("description")) for a in p.get("args", [])])
        elif meth == "Log.entryAdded" and p.get("entry", {}).get("level") == "error":
            bad.append("log error: %s" % p["entry"].get("text"))
        elif meth == "Network.requestWillBeSent":
            url = p.get("request", {}).get("url", "")
            if url != page_url:
                bad.append("request for %s" % url)
    return bad


def check_charts(result):
    bad = []
    if result["scripts"]:
        bad.append("the page has %d <script> elements" % result["scripts"])
    if not result["charts"]:
        bad.append("no svg.chart in the page")
    for c in result["charts"]:
        for key in ("title", "x_label", "y_label"):
            if not c[key]:
                bad.append("chart %d (%s) has no %s" % (c["index"], c["title"], key))
        if c["marks"] < 1:
            bad.append("chart %d (%s) has no data mark" % (c["index"], c["title"]))
        if c["marks_without_tooltip"]:
            bad.append("chart %d (%s): %d marks without a <title>" % (c["index"], c["title"],
                                                                      c["marks_without_tooltip"]))
    return bad


def run(chromium, page, shot, width):
    url = "file://" + os.path.abspath(page)
    b = Browser(chromium, width)
    try:
        targets = b.send("Target.getTargets")["targetInfos"]
        page_t = next((t for t in targets if t["type"] == "page"), None)
        tid = page_t["targetId"] if page_t else b.send("Target.createTarget", {"url": "about:blank"})["targetId"]
        sess = b.send("Target.attachToTarget", {"targetId": tid, "flatten": True})["sessionId"]
        for domain in ("Runtime", "Log", "Network", "Page"):
            b.send(domain + ".enable", session=sess)
        b.send("Emulation.setDeviceMetricsOverride",
               {"width": width, "height": 900, "deviceScaleFactor": 1, "mobile": False}, session=sess)
        b.send("Page.navigate", {"url": url}, session=sess)
        b.wait_event("Page.loadEventFired")
        res = b.send("Runtime.evaluate", {"expression": CHECK_JS, "returnByValue": True}, session=sess)
        result = json.loads(res["result"]["value"])
        size = b.send("Page.getLayoutMetrics", session=sess)["cssContentSize"]
        png = b.send("Page.captureScreenshot",
                     {"format": "png", "captureBeyondViewport": True,
                      "clip": {"x": 0, "y": 0, "width": width, "height": size["height"], "scale": 1}},
                     session=sess)["data"]
        with open(shot, "wb") as f:
            f.write(base64.b64decode(png))
        # late events (a request after load) count too
        b.deadline = min(b.deadline, time.monotonic() + 0.5)
        try:
            while True:
                b.events.append(b._read_message())
        except TimeoutError:
            pass
        return result, problems_in(b.events, url) + check_charts(result)
    finally:
        b.close()


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    width = int(sys.argv[4]) if len(sys.argv) > 4 else 1200
    try:
        result, bad = run(sys.argv[1], sys.argv[2], sys.argv[3], width)
    except (TimeoutError, RuntimeError, OSError, KeyError, ValueError) as e:
        print("FAIL: %s" % e)
        return 1
    print("%d charts: %s" % (len(result["charts"]), "; ".join(
        "%s (%d marks)" % (c["title"], c["marks"]) for c in result["charts"])))
    for s in result["skips"]:
        print("skipped chart: %s" % s)
    for p in bad:
        print("FAIL: %s" % p)
    return 1 if bad else 0


if __name__ == "__main__":
    sys.exit(main())
