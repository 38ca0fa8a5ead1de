// The web console end to end, in headless Chromium driven by playwright-core (run by
// compat-tests/python/test_console.py, which starts the broker, produces with a real client,
// commits a group's offsets, and checks afterwards with a real consumer what this produced).
//
// Environment: CONSOLE_URL (http://host:port), TOPIC, GROUP, MESSAGES (records the test
// produced), COMMITTED (the group's committed offset in partition 0), MEMBER_CLIENT_ID (the
// client id of the group's one member), SCREENSHOTS (directory).
// Prints one JSON line per step ({"step", "screenshot"}) and a last line {"done": true, ...};
// any failed expectation exits non-zero with the reason.
"use strict";

const fs = require("fs");
const path = require("path");
const { chromium } = require("playwright-core");

const env = (name) => {
  const v = process.env[name];
  if (v === undefined) throw new Error(`${name} is not set`);
  return v;
};
const URL_BASE = env("CONSOLE_URL");
const TOPIC = env("TOPIC");
const GROUP = env("GROUP");
const MESSAGES = Number(env("MESSAGES"));
const COMMITTED = Number(env("COMMITTED"));
const MEMBER_CLIENT_ID = env("MEMBER_CLIENT_ID");
const SHOTS = env("SCREENSHOTS");
const TIMEOUT_MS = 15000;

function expect(cond, what) {
  if (!cond) throw new Error("expected: " + what);
}

async function main() {
  fs.mkdirSync(SHOTS, { recursive: true });
  const browser = await chromium.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    timeout: 60000,
    args: [
      "--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
      "--disable-background-networking", "--disable-component-update", "--disable-sync",
    ],
    // A fresh, empty profile: playwright gives every launch its own temporary --user-data-dir.
  });
  const shots = [];
  try {
    const page = await browser.newPage({ viewport: { width: 1280, height: 900 } });
    page.setDefaultTimeout(TIMEOUT_MS);
    const errors = [];
    page.on("pageerror", (e) => errors.push(String(e)));
    const shot = async (step) => {
      const file = path.join(SHOTS, step + ".png");
      await page.screenshot({ path: file, fullPage: true });
      shots.push(file);
      console.log(JSON.stringify({ step, screenshot: file }));
    };
    const open = async (hash, loaded) => {
      await page.goto(URL_BASE + "/" + hash);
      await page.waitForSelector(`main[data-loaded="${loaded}"]`);
    };
    const text = (selector) => page.locator(selector).first().innerText();

    // Overview: the topic count (the test's topic is the only one that is not internal).
    await open("#/", "overview");
    expect((await text("#topic-count")) === "1", "overview shows 1 topic, not " + await text("#topic-count"));
    expect((await text("#cluster-id")).length > 0, "a cluster id");
    await shot("overview");

    // Topics: the topic is listed; its page shows the end offset.
    await open("#/topics", "topics");
    await page.waitForSelector(`tr[data-topic="${TOPIC}"]`);
    await shot("topics");
    await page.click(`tr[data-topic="${TOPIC}"] a >> text=${TOPIC}`);
    await page.waitForSelector("#partitions-table");
    const end = await text('tr[data-partition="0"] .end-offset');
    expect(end === String(MESSAGES), `end offset ${MESSAGES}, not ${end}`);
    await shot("topic");

    // Message browser: a produced record's key, and its JSON value pretty-printed.
    await open(`#/messages?topic=${TOPIC}&partition=0&offset=0`, "messages");
    const row = 'tr[data-offset="3"]';
    await page.waitForSelector(row);
    expect((await text(`${row} .key`)) === "key-3", "key-3 at offset 3");
    const json = await text(`${row} .value pre.field-json`);
    expect(json.includes('"n": 3') && json.includes("\n"), "value shown as pretty JSON: " + json);
    expect((await text(`${row} .headers`)).includes("source: python"), "the record's header");
    await shot("messages");
    // Hex rendering of the same page.
    await page.selectOption('select[name="format"]', "hex");
    await page.click('#browse-form button[type="submit"]');
    await page.waitForFunction(() => location.hash.includes("format=hex") && document.querySelector("pre.field-hex"));
    expect((await text('tr[data-offset="3"] .key pre')).includes("6b 65 79 2d 33"), "key-3 as hex");
    await shot("messages-hex");

    // Produce a test message through the console; it appears in the browser.
    await open(`#/produce?topic=${TOPIC}`, "produce");
    await page.fill('input[name="key"]', "from-console");
    await page.fill('textarea[name="value"]', '{"console": true}');
    await page.fill('textarea[name="headers"]', "origin=browser");
    await page.click('#produce-form button[type="submit"]');
    await page.waitForSelector("#produced-offset");
    const produced = await text("#produced-offset");
    expect(produced === String(MESSAGES), `the console's message at offset ${MESSAGES}, not ${produced}`);
    await shot("produce");
    await page.click("#produce-result a");
    await page.waitForSelector(`main[data-loaded="messages"] tr[data-offset="${MESSAGES}"]`);
    expect((await text(`tr[data-offset="${MESSAGES}"] .key`)) === "from-console", "the console's key in the browser");
    expect((await text(`tr[data-offset="${MESSAGES}"] .value`)).includes('"console": true'), "the console's value");
    await shot("messages-produced");

    // Groups: committed offset and lag against the end (which now includes the console's record).
    await open("#/groups", "groups");
    const group = `div.group[data-group="${GROUP}"]`;
    await page.waitForSelector(group);
    const lag = MESSAGES + 1 - COMMITTED;
    await page.waitForFunction(([g, l]) => {
      const t = document.querySelector(g + " .total-lag");
      return t && t.textContent === String(l);
    }, [group, lag]);
    expect((await text(`${group} tr[data-topic="${TOPIC}"] .lag`)) === String(lag), "partition lag " + lag);
    // The polling member and its assignment (the group is Stable once it has joined).
    const member = `${group} tr[data-client-id="${MEMBER_CLIENT_ID}"]`;
    await page.waitForSelector(member);
    expect((await text(`${member} .assignment`)) === `${TOPIC}: 0`, "the member is assigned partition 0");
    expect((await text(`${group} .state`)) === "Stable", "the group is Stable");
    // Let the page take a few lag samples for its chart.
    await page.waitForTimeout(6500);
    const points = await page.locator(`${group} svg.chart polyline`).getAttribute("points");
    expect(points.trim().split(" ").length >= 3, "the lag chart has several samples: " + points);
    await shot("groups");

    await open("#/acls", "acls");
    await shot("acls");

    expect(errors.length === 0, "no page errors: " + errors.join("; "));
    console.log(JSON.stringify({ done: true, screenshots: shots }));
  } finally {
    await browser.close();
  }
}

main().catch((e) => {
  console.error(e && e.stack ? e.stack : String(e));
  process.exit(1);
});
