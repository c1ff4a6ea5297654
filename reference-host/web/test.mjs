// The reference host in headless Chromium: starts the server (REFERENCE_HOST_BIN) against
// its embedded stand-in with a canary key, walks the page and asserts what a person sees:
// a bad domain's readable message at the domain field, a bad key's at the key field, a good
// credential as a tile, the masked key on edit, an edited domain demanding the key again,
// rotation, use for a source (discover + preview) with its webhook panel (the URL with its token,
// the steps, Copy, "New URL" replacing the token, a change made in the embedded stand-in listed
// within 1000 ms plus the page's 1000 ms refresh) and delete; the advanced settings folded and
// the array buttons labelled; the forms validated under a content security policy without
// 'unsafe-eval' (precompiled validators) with no violation reported, and a bundle whose
// validators were built from another schema refusing to show a form; a page on another origin (a second local server) unable to create,
// edit, rotate or delete by cross-origin fetch or plain HTML form. The canary key is never in the
// page, in any response body or in the server's log; a webhook token (shown on the page, in its
// URL) is never in the server's log. Screenshots: target/host-screenshots/.
import { spawn } from "node:child_process";
import fs from "node:fs";
import http from "node:http";
import os from "node:os";
import path from "node:path";
import readline from "node:readline";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const shots = path.join(root, "target/host-screenshots");
fs.rmSync(shots, { recursive: true, force: true });
fs.mkdirSync(shots, { recursive: true });
const CANARY = "canary-browser-key-3e9a71c5";
const ROTATED = "canary-rotated-key-b2d04f86";
const TASKS_ONLY = "canary-tasks-only-key-6a1f";
const KEYS = [CANARY, ROTATED, TASKS_ONLY];
const MESSAGES = JSON.parse(fs.readFileSync(path.join(root, "schemas/flowlu/credential.errors.json"), "utf8"));

// ---- the server
const bin = process.env.REFERENCE_HOST_BIN || path.join(root, "target/debug/reference-host");
const data = fs.mkdtempSync(path.join(os.tmpdir(), "reference-host-"));
const logFile = path.join(root, "target/host-screenshots/server.log");
const log = fs.openSync(logFile, "w");
const server = spawn(bin, ["--listen", "127.0.0.1:0", "--data-dir", data, "--assets", path.join(here, "dist"),
  "--stand-in-key", CANARY, "--stand-in-key", ROTATED, "--stand-in-limited-key", `${TASKS_ONLY}=task`], { stdio: ["ignore", "pipe", log], env: { ...process.env, NO_COLOR: "1", RUST_LOG: "debug" } });
const base = await new Promise((resolve, reject) => {
  const timer = setTimeout(() => reject(new Error("the server printed no URL within 60 s")), 60000);
  readline.createInterface({ input: server.stdout }).once("line", (l) => { clearTimeout(timer); resolve(l.trim()); });
  server.once("exit", (code) => reject(new Error(`the server exited (${code}); see ${logFile}`)));
});
console.log(`reference host at ${base}`);

const failures = [];
let passed = 0;
function check(name, ok, detail) {
  if (ok) { passed++; console.log(`ok   ${name}`); } else { failures.push(name); console.log(`FAIL ${name}: ${detail}`); }
}

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
const bodies = [];
const hookTokens = [];
let step = 0;
// Content security policy violations a page reports (its `securitypolicyviolation` events,
// and Chromium's console errors about the policy).
async function watchCsp(page) {
  const violations = [];
  await page.addInitScript(() => document.addEventListener("securitypolicyviolation",
    (e) => console.error(`CSP violation: ${e.violatedDirective} ${e.blockedURI}`)));
  page.on("console", (m) => {
    if (m.type() === "error" && /CSP violation|Content Security Policy|unsafe-eval/i.test(m.text())) violations.push(m.text());
  });
  return violations;
}
try {
  const page = await browser.newPage({ viewport: { width: 1000, height: 1200 } });
  page.setDefaultTimeout(15000);
  const cspViolations = await watchCsp(page);
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));
  page.on("response", async (r) => { try { bodies.push({ url: r.url(), text: await r.text() }); } catch { /* redirects have no body */ } });
  const shot = async (name) => page.screenshot({ path: path.join(shots, `${String(++step).padStart(2, "0")}-${name}.png`), fullPage: true });
  // The error list RJSF shows under one field (its innermost form-group).
  const fieldErrors = async (id) => {
    const group = page.locator("div.form-group", { has: page.locator(`#${id}`) }).last();
    return (await group.locator(".error-detail").allTextContents()).join(" ");
  };
  const waitFieldError = async (id, text) => {
    await page.locator("div.form-group", { has: page.locator(`#${id}`) }).last()
      .locator(".error-detail", { hasText: text }).waitFor();
    return fieldErrors(id);
  };
  const noCanaryInPage = async (where) => {
    const html = await page.content();
    check(`${where}: the page does not hold the key`, KEYS.every((k) => !html.includes(k)), "key in the page");
  };
  const submit = () => page.click("#credential-form button[type=submit], #rotate-form button[type=submit]");

  const first = await page.goto(base);
  const policy = first.headers()["content-security-policy"] || "";
  check("the page's content security policy allows no eval and no inline script",
    policy.includes("script-src 'self';") && !policy.includes("unsafe-eval") && !policy.includes("unsafe-inline"), policy);
  await page.locator("#no-credentials").waitFor();
  await shot("empty");

  // 1. A malformed domain: the form's own readable message at the domain field (no request).
  await page.click("#add-credential");
  await page.locator("#root_api_key").waitFor();
  // Advanced settings: folded until opened; array fields' buttons say what they do.
  check("advanced settings are folded", (await page.getAttribute("#advanced-settings", "open")) === null &&
    !(await page.isVisible("#root_advanced_page_size")), "open or visible");
  await page.click("#advanced-settings > summary");
  await page.locator("#root_advanced_page_size").waitFor();
  const addButtons = await page.locator("#advanced-settings button.array-item-add").allTextContents();
  check("array fields have labelled Add buttons", addButtons.length >= 2 && addButtons.every((t) => t === "Add an item"), JSON.stringify(addButtons));
  await page.locator("#advanced-settings button.array-item-add").first().click();
  const itemButtons = await page.locator("#advanced-settings .array-item button").allTextContents();
  check("an array item's buttons are labelled", itemButtons.includes("Remove") && itemButtons.every((t) => t.trim().length > 0), JSON.stringify(itemButtons));
  await shot("advanced-open");
  await page.locator("#advanced-settings .array-item button", { hasText: "Remove" }).first().click();
  await page.click("#advanced-settings > summary");
  check("the key field is masked", (await page.getAttribute("#root_api_key", "type")) === "password", "not type=password");
  await page.fill("#root_name", "Sales CRM");
  await page.fill("#root_description", "Owned by sales ops");
  await page.fill("#root_account_domain", "my company!");
  await page.fill("#root_api_key", "wrong-key");
  await submit();
  const malformed = await waitFieldError("root_account_domain", MESSAGES[".account_domain"].pattern);
  check("a malformed domain: the readable message at the domain field", malformed.includes(MESSAGES[".account_domain"].pattern), malformed);
  check("a malformed domain: no regex shown", !(await page.textContent("form")).includes("must match pattern"), "regex shown");
  await shot("malformed-domain");

  // 2. An account that does not exist: the validation call's message at the domain field.
  await page.fill("#root_account_domain", "nosuch");
  await submit();
  const unknown = await waitFieldError("root_account_domain", "No Flowlu account answered");
  check("an unknown account: the message at the domain field", unknown.includes("Check the account domain"), unknown);
  check("an unknown account: nothing at the key field", (await fieldErrors("root_api_key")) === "", await fieldErrors("root_api_key"));
  await shot("unknown-account");

  // 3. A bad key: at the key field.
  await page.fill("#root_account_domain", "demo");
  await submit();
  const badKey = await waitFieldError("root_api_key", "Flowlu rejected the API key");
  check("a bad key: the message at the key field", badKey.includes("Check that you copied the whole key"), badKey);
  check("a bad key: nothing at the domain field", (await fieldErrors("root_account_domain")) === "", await fieldErrors("root_account_domain"));
  await shot("bad-key");

  // 4. The good key: a tile.
  await page.fill("#root_api_key", CANARY);
  await submit();
  const tile = page.locator(".tile", { hasText: "Sales CRM" });
  await tile.waitFor();
  const tileText = await tile.textContent();
  check("a good credential becomes a tile", ["Sales CRM", "Owned by sales ops", "Account: demo.flowlu.com", "Connected", "Last validated: 20"]
    .every((t) => tileText.includes(t)), tileText);
  await noCanaryInPage("the tile");
  await shot("tile");

  // 5. Edit: the key comes back as the mask; changing the domain demands the key again.
  await tile.locator("button", { hasText: "Edit" }).click();
  await page.locator("#root_api_key").waitFor();
  const masked = await page.inputValue("#root_api_key");
  check("edit: the key field holds the mask, not the key", masked.length > 0 && masked !== CANARY, JSON.stringify(masked.length));
  check("edit: the domain is as saved", (await page.inputValue("#root_account_domain")) === "demo", await page.inputValue("#root_account_domain"));
  await noCanaryInPage("the edit form");
  await shot("edit-masked");
  await page.fill("#root_account_domain", "other");
  await submit();
  const again = await waitFieldError("root_api_key", "Enter the API key again");
  check("edit: a changed domain demands the key again, at the key field", again.includes("the account domain changed"), again);
  await shot("edit-domain-changed");
  // Back to the saved domain, a new name: saved with the kept key.
  await page.fill("#root_account_domain", "demo");
  await page.fill("#root_name", "Sales CRM (EU)");
  await submit();
  const renamed = page.locator(".tile", { hasText: "Sales CRM (EU)" });
  await renamed.waitFor();
  check("edit: saved with the kept key", (await renamed.textContent()).includes("Connected"), await renamed.textContent());
  await shot("edited");

  // 6. Rotate: a wrong key is refused at the key field, the new one replaces the old.
  await renamed.locator("button", { hasText: "Rotate key" }).click();
  await page.locator("#rotate-form #root_api_key").waitFor();
  await page.fill("#rotate-form #root_api_key", "wrong-again");
  await submit();
  const rotateBad = await waitFieldError("root_api_key", "Flowlu rejected the API key");
  check("rotate: a wrong key at the key field", rotateBad.length > 0, rotateBad);
  await page.fill("#rotate-form #root_api_key", ROTATED);
  await submit();
  await page.locator(".tile", { hasText: "Sales CRM (EU)" }).waitFor();
  await noCanaryInPage("after rotation");
  await shot("rotated");

  // 6b. A page on another origin can neither create, edit, rotate nor delete: a plain HTML
  // form post and cross-origin fetches (text/plain: no preflight; JSON, PUT, DELETE: preflight,
  // never allowed). Each is tried with a key the stand-in accepts, so a success would show.
  const listed = async () => (await (await fetch(`${base}api/credentials`)).json()).credentials;
  const before = await listed();
  const attacker = http.createServer((req, res) => { res.setHeader("content-type", "text/html"); res.end("<!doctype html><p>another site</p>"); });
  await new Promise((r) => attacker.listen(0, "127.0.0.1", r));
  const evil = `http://127.0.0.1:${attacker.address().port}/`;
  const id = before[0].id;
  const attempts = await (async () => {
    const other = await browser.newPage();
    try {
      await other.goto(evil);
      const fetched = await other.evaluate(async ({ base, id, key }) => {
        const out = {};
        const attempt = async (name, url, init) => {
          try { const r = await fetch(url, init); out[name] = r.type === "opaque" ? "sent (opaque)" : String(r.status); } catch (e) { out[name] = "blocked"; }
        };
        const create = JSON.stringify({ name: "Planted", account_domain: "demo", api_key: key });
        await attempt("create text/plain", `${base}api/credentials`, { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: create });
        await attempt("create json", `${base}api/credentials`, { method: "POST", headers: { "content-type": "application/json" }, body: create });
        await attempt("rotate text/plain", `${base}api/credentials/${id}/rotate`, { method: "POST", mode: "no-cors", headers: { "content-type": "text/plain" }, body: JSON.stringify({ api_key: key }) });
        await attempt("edit", `${base}api/credentials/${id}`, { method: "PUT", headers: { "content-type": "application/json" }, body: JSON.stringify({ name: "Renamed", account_domain: "demo", api_key: "********" }) });
        await attempt("delete", `${base}api/credentials/${id}`, { method: "DELETE" });
        await attempt("delete no-cors", `${base}api/credentials/${id}`, { method: "DELETE", mode: "no-cors" });
        return out;
      }, { base, id, key: TASKS_ONLY });
      // A plain HTML form (enctype text/plain carries a JSON-looking body), create and rotate.
      for (const [action, field, value] of [[`${base}api/credentials`, '{"name":"Form planted","account_domain":"demo","api_key":"' + TASKS_ONLY + '","x":"', '"}'],
        [`${base}api/credentials/${id}/rotate`, '{"api_key":"' + TASKS_ONLY + '","x":"', '"}']]) {
        await other.goto(evil);
        await Promise.all([other.waitForNavigation(), other.evaluate(({ action, field, value }) => {
          const f = document.createElement("form");
          f.method = "POST"; f.action = action; f.enctype = "text/plain";
          const i = document.createElement("input"); i.name = field; i.value = value; f.appendChild(i);
          document.body.appendChild(f); f.submit();
        }, { action, field, value })]);
        fetched[`form ${action.endsWith("rotate") ? "rotate" : "create"}`] = (await other.textContent("body")).slice(0, 60);
      }
      return fetched;
    } finally { await other.close(); }
  })();
  attacker.close();
  console.log(`     cross-origin attempts: ${JSON.stringify(attempts)}`);
  const after = await listed();
  check("another origin: nothing created (fetch, form post)", after.length === before.length && after.every((t) => !/planted/i.test(t.name)), JSON.stringify(after.map((t) => t.name)));
  check("another origin: not edited, not deleted", after[0].id === id && after[0].name === before[0].name, JSON.stringify(after[0]));
  check("another origin: not rotated (the tile would warn with the tasks-only key)", after[0].status === "valid" && after[0].warnings.length === 0, JSON.stringify(after[0]));
  check("another origin: the form posts were refused by the host",
    attempts["form create"].includes("Refused") && attempts["form rotate"].includes("Refused"), JSON.stringify(attempts));
  check("another origin: JSON, PUT and DELETE never left the browser",
    ["create json", "edit", "delete"].every((k) => attempts[k] === "blocked"), JSON.stringify(attempts));
  await page.reload();
  await page.locator(".tile", { hasText: "Sales CRM (EU)" }).waitFor();

  // 7. Use for a source: discover, then the first records of a stream.
  await page.locator(".tile", { hasText: "Sales CRM (EU)" }).locator("button", { hasText: "Use for a source" }).click();
  await page.locator("#stream-count").waitFor();
  const count = await page.textContent("#stream-count");
  check("use for a source: streams discovered", /^\d+ streams/.test(count) && parseInt(count, 10) > 10, count);
  await page.click('button.stream[data-stream="crm_account"]');
  await page.locator("#preview tbody tr").first().waitFor();
  const rows = await page.locator("#preview tbody tr").count();
  check("use for a source: a preview of the first 5 records", rows === 5, rows);
  await shot("source-preview");

  // 7b. The credential's webhook: its URL (token included) with the steps and a Copy button;
  // "New URL" replaces the token; a change made in the embedded stand-in (its own
  // /_emulator/mutate, at the address the server logs at debug) shows in the change list.
  const credId = (await listed())[0].id;
  const hookUrl = page.locator("#webhook-url");
  await hookUrl.waitFor();
  const hookPattern = new RegExp(`^${base.replaceAll(".", "\\.")}hooks/${credId}/flowlu/webhook/([A-Za-z0-9_-]{16,})$`);
  const firstUrl = await hookUrl.inputValue();
  const firstToken = (firstUrl.match(hookPattern) || [])[1];
  if (firstToken) hookTokens.push(firstToken);
  check("webhook: the URL names this host, the credential and a token", Boolean(firstToken), firstUrl);
  const steps = await page.locator("#webhook ol li").allTextContents();
  check("webhook: the four steps, starting at Flowlu's System Settings -> Webhooks", steps.length === 4 &&
    steps[0] === "In Flowlu, open System Settings -> Webhooks (an administrator's page) and add a webhook." &&
    steps[1].startsWith("Paste this URL."), JSON.stringify(steps));
  await page.context().grantPermissions(["clipboard-read", "clipboard-write"], { origin: base.replace(/\/$/, "") });
  const copyButton = page.locator("#webhook-copy");
  check("webhook: a Copy button", (await copyButton.textContent()) === "Copy", await copyButton.textContent());
  await copyButton.click();
  await page.locator("#webhook-copy", { hasText: "Copied" }).waitFor();
  const copied = await page.evaluate(() => navigator.clipboard.readText());
  check("webhook: Copy puts the URL on the clipboard", copied === firstUrl, copied);
  await shot("webhook");
  await page.click("#webhook-rotate");
  await page.waitForFunction((old) => document.querySelector("#webhook-url")?.value !== old, firstUrl);
  const secondUrl = await hookUrl.inputValue();
  const secondToken = (secondUrl.match(hookPattern) || [])[1];
  if (secondToken) hookTokens.push(secondToken);
  check("webhook: New URL shows another token for the same credential", Boolean(secondToken) && secondToken !== firstToken, secondUrl);
  const shown = await page.evaluate(() => document.documentElement.outerHTML + [...document.querySelectorAll("input")].map((i) => i.value).join(" "));
  check("webhook: the old URL is no longer shown", !shown.includes(firstToken) && shown.includes(secondToken), "old token in the page or new one missing");
  check("webhook: the previous URL's grace period is said", (await page.textContent("#webhook")).includes("The previous URL works until 20"), await page.textContent("#webhook"));
  check("webhook: Copy offered again for the new URL", (await copyButton.textContent()) === "Copy", await copyButton.textContent());
  const standIn = (fs.readFileSync(logFile, "utf8").match(/flowlu emulator listening.*?(127\.0\.0\.1:\d+)/) || [])[1];
  check("the stand-in's address is in the server's debug log", Boolean(standIn), "no 'flowlu emulator listening' line");
  check("webhook: no change listed before the stand-in changes", (await page.locator("#webhook-changes li").count()) === 0,
    await page.textContent("#webhook-changes"));
  const madeAt = Date.now();
  const mutated = await fetch(`http://${standIn}/_emulator/mutate`, { method: "POST", headers: { "content-type": "application/json" },
    body: JSON.stringify({ module: "crm", model: "account", seed: 7, updates: 1 }) });
  const summary = await mutated.json();
  const expected = `update ${summary.updated?.[0]} ${summary.timestamp}`;
  let seenAfter = null;
  while (Date.now() - madeAt < 5000) {
    if ((await page.locator("#webhook-changes li").allTextContents()).includes(expected)) { seenAfter = Date.now() - madeAt; break; }
    await page.waitForTimeout(10);
  }
  console.log(`     a change made in the stand-in was listed after ${seenAfter ?? "more than 5000"} ms`);
  // The page asks for the changes every 1000 ms (setInterval in app.jsx): a change that reaches
  // the spool just after an ask is listed at the next one, so the bound is 1000 ms for the change
  // to arrive plus the 1000 ms refresh interval.
  check("webhook: a change made in the stand-in is listed within 1000 ms + the page's 1000 ms refresh",
    mutated.status === 200 && summary.updated?.length === 1 && seenAfter !== null && seenAfter <= 2000,
    `status ${mutated.status}, ${JSON.stringify(summary)}, listed after ${seenAfter ?? "> 5000"} ms`);
  check("webhook: the heading counts the one change", (await page.textContent("#webhook-changes h4")) === "crm_account: changes received by webhook (1)",
    await page.textContent("#webhook-changes h4"));
  await shot("webhook-change");
  await page.click("#source-panel button:text('Close')");

  // 8. A key that lacks modules: saved, its warning on the whole credential (the tile).
  await page.click("#add-credential");
  await page.locator("#root_api_key").waitFor();
  await page.fill("#root_name", "Tasks only");
  await page.fill("#root_account_domain", "demo");
  await page.fill("#root_api_key", TASKS_ONLY);
  await submit();
  const limited = page.locator(".tile", { hasText: "Tasks only" });
  await limited.waitFor();
  const limitedText = await limited.textContent();
  check("a key lacking modules: a tile with its warning", limitedText.includes("Connected, with warnings") &&
    limitedText.includes("The API key may not read these modules: crm,"), limitedText);
  await shot("warning-tile");
  await limited.locator("button", { hasText: "Delete" }).click();
  await limited.locator("button.confirm-delete").click();
  await limited.waitFor({ state: "detached" });

  // 9. Delete.
  await page.locator(".tile", { hasText: "Sales CRM (EU)" }).locator("button", { hasText: "Delete" }).click();
  await page.click("button.confirm-delete");
  await page.locator("#no-credentials").waitFor();
  check("delete: the tile is gone", (await page.locator(".tile").count()) === 0, "tiles remain");
  await shot("deleted");
  check("no script error in the page", pageErrors.length === 0, pageErrors);
  check("no content security policy violation in the walk (forms validated without eval)", cspViolations.length === 0, cspViolations);

  // 10. A bundle built from another schema than the server's (here: the server's answer
  // changed under it) shows no form but says to rebuild; and the violation watch does see a
  // violation (an inline script the policy refuses), so its silence above means something.
  const stale = await browser.newPage();
  try {
    const staleViolations = await watchCsp(stale);
    const staleErrors = [];
    stale.on("pageerror", (e) => staleErrors.push(String(e)));
    await stale.route("**/api/kinds/flowlu/form", async (route) => {
      const response = await route.fetch();
      const form = await response.json();
      form.schema.properties.name.maxLength = 7;
      await route.fulfill({ response, json: form });
    });
    await stale.goto(base);
    const banner = await stale.locator("#stale-validators").textContent();
    check("stale validators: the page says to rebuild it", banner.includes("(credential)") &&
      banner.includes("npm --prefix reference-host/web run build"), banner);
    check("stale validators: no form offered", (await stale.locator("#add-credential, form").count()) === 0, "a form or the Add button is shown");
    check("stale validators: no script error", staleErrors.length === 0, staleErrors);
    check("stale validators: no violation before the control", staleViolations.length === 0, staleViolations);
    await stale.evaluate(() => {
      const s = document.createElement("script");
      s.textContent = "window.inlineRan = true";
      document.body.appendChild(s);
    });
    for (let i = 0; i < 50 && staleViolations.length === 0; i++) await stale.waitForTimeout(20);
    check("the violation watch reports a refused inline script", staleViolations.length > 0 &&
      !(await stale.evaluate(() => window.inlineRan === true)), "no violation reported");
  } finally { await stale.close(); }
} catch (e) {
  check("the page could be driven", false, String(e).split("\n")[0]);
  try { await browser.contexts()[0]?.pages()[0]?.screenshot({ path: path.join(shots, "failed.png"), fullPage: true }); } catch { /* no page */ }
} finally {
  await browser.close();
  server.kill("SIGINT");
  await new Promise((r) => server.once("exit", r));
}
const leaked = bodies.filter((b) => KEYS.some((k) => b.text.includes(k))).map((b) => b.url);
check(`no response body holds the key (${bodies.length} responses)`, bodies.length >= 15 && leaked.length === 0, leaked);
check("the server refused the cross-origin changes that reached it (403)", (fs.readFileSync(logFile, "utf8").match(/status=403/g) || []).length >= 4, "fewer than 4 refusals logged");
const serverLog = fs.readFileSync(logFile, "utf8");
check("the server's log recorded the requests", serverLog.includes("path=/api/credentials"), "no request lines");
check("the server's log never holds the key", KEYS.every((k) => !serverLog.includes(k)), "key in the log");
check(`the server's log recorded the webhook requests and never holds a webhook token (${hookTokens.length} shown on the page)`,
  /path=\/api\/credentials\/\d+\/webhook\/rotate status=200/.test(serverLog) && hookTokens.length === 2 &&
  hookTokens.every((t) => !serverLog.includes(t)), "no webhook request line, or a token in the log");
const db = fs.readFileSync(path.join(data, "host.sqlite3"));
check("the database file never holds the key", KEYS.every((k) => !db.includes(k)), "key in the database");
fs.rmSync(data, { recursive: true, force: true });
console.log(`reference host: ${passed} passed, ${failures.length} failed`);
console.log(`screenshots and the server's log: ${shots}`);
process.exit(failures.length ? 1 : 0);
