// Renders the generated credential form (schemas/flowlu/) in react-jsonschema-form and JSON
// Forms in headless Chromium, fills it badly then well, and asserts what a person sees: the
// order of the fields, the masked key, the readable error (never the regex), the help text.
// Screenshots go to target/ci-artifacts/forms/. Exits non-zero naming what failed.
import http from "node:http";
import fs from "node:fs";
import path from "node:path";
import { fileURLToPath } from "node:url";
import { chromium } from "playwright-core";

const here = path.dirname(fileURLToPath(import.meta.url));
const root = path.resolve(here, "../..");
const out = path.join(root, "target/ci-artifacts/forms");
fs.mkdirSync(out, { recursive: true });
const read = (f) => JSON.parse(fs.readFileSync(path.join(root, "schemas/flowlu", f), "utf8"));
const form = {
  schema: read("credential.schema.json"),
  ui_schema: read("credential.uischema.json"),
  json_forms_ui_schema: read("credential.jsonforms.uischema.json"),
  error_messages: read("credential.errors.json"),
};
const DOMAIN_MESSAGE = form.error_messages[".account_domain"].pattern;
const page_html = `<!doctype html><html><head><meta charset="utf-8"><title>Flowlu credential</title>
<style>body{font-family:sans-serif;max-width:720px;margin:1em auto} input,textarea{display:block;width:100%}
.validation_error,.text-danger,.error-detail{color:#b00} .input-description{color:#555}</style></head>
<body><div id="root"></div><script>window.FORM=${JSON.stringify(form)}</script><script src="/app.js"></script></body></html>`;

const server = http.createServer((req, res) => {
  if (req.url.startsWith("/app.js")) {
    res.writeHead(200, { "content-type": "text/javascript" });
    res.end(fs.readFileSync(path.join(here, "dist/app.js")));
  } else {
    res.writeHead(200, { "content-type": "text/html" });
    res.end(page_html);
  }
});
await new Promise((r) => server.listen(0, "127.0.0.1", r));
const base = `http://127.0.0.1:${server.address().port}/`;

const failures = [];
let passed = 0;
function check(name, ok, detail) {
  if (ok) {
    passed++;
    console.log(`ok   ${name}`);
  } else {
    failures.push(name);
    console.log(`FAIL ${name}: ${detail}`);
  }
}

// The README's "Rendering the form" wiring is this page's: every line of its jsx blocks (but
// comments) is a line of app.jsx.
const readme = fs.readFileSync(path.join(root, "README.md"), "utf8");
const section = readme.split("\n## Rendering the form\n")[1]?.split("\n## ")[0] ?? "";
const wiring = [...section.matchAll(/```jsx\n([\s\S]*?)```/g)].flatMap((m) => m[1].split("\n"))
  .map((l) => l.trim()).filter((l) => l && !l.startsWith("//"));
const appLines = new Set(fs.readFileSync(path.join(here, "app.jsx"), "utf8").split("\n").map((l) => l.trim()));
const missing = wiring.filter((l) => !appLines.has(l));
check(`the README's ajv-errors wiring (${wiring.length} lines, RJSF and JSON Forms) is the page's`,
  wiring.length >= 8 && wiring.some((l) => l === "ajvErrors(validator.ajv);") && wiring.some((l) => l === "ajvErrors(ajv);") && missing.length === 0,
  JSON.stringify(missing));

const browser = await chromium.launch({
  executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
  args: ["--headless", "--no-sandbox", "--disable-gpu", "--disable-quic", "--no-first-run",
    "--disable-background-networking", "--disable-component-update", "--disable-sync"],
});
try {
  const page = await browser.newPage({ viewport: { width: 900, height: 1400 } });
  page.setDefaultTimeout(10000);
  const pageErrors = [];
  page.on("pageerror", (e) => pageErrors.push(String(e)));

  // ---- react-jsonschema-form
  await page.goto(base + "?r=rjsf");
  await page.waitForSelector("#root_api_key");
  const rjsfLabels = await page.$$eval("#root label.control-label, #root legend:not(#root__title)",
    (ls) => ls.map((l) => l.textContent.replace("*", "").trim()));
  check("rjsf: fields in the intended order", JSON.stringify(rjsfLabels.slice(0, 5)) ===
    JSON.stringify(["Credential name", "Description", "Account domain", "API key", "Advanced settings"]), rjsfLabels);
  check("rjsf: the key is masked", (await page.getAttribute("#root_api_key", "type")) === "password", "not type=password");
  check("rjsf: the description is multi-line", (await page.$("textarea#root_description")) !== null, "no textarea");
  check("rjsf: start date has a date picker", (await page.getAttribute("#root_advanced_start_date", "type")) === "date", "not type=date");
  const rjsfText = await page.textContent("form");
  check("rjsf: help shown without focus", rjsfText.includes("the account domain is the part before .flowlu.com"), "help text missing");
  // Badly: a domain with a space and a bang.
  await page.fill("#root_name", "Production CRM");
  await page.fill("#root_account_domain", "my company!");
  await page.fill("#root_api_key", "secret-key-123");
  await page.click("button[type=submit]");
  await page.waitForSelector(".error-detail");
  const rjsfErrors = await page.$$eval(".error-detail", (es) => es.map((e) => e.textContent));
  await page.screenshot({ path: path.join(out, "rjsf-bad.png"), fullPage: true });
  check("rjsf: the readable error under the domain", rjsfErrors.some((e) => e.includes(DOMAIN_MESSAGE)), rjsfErrors);
  check("rjsf: no regex shown", !(await page.textContent("form")).includes("must match pattern"), "regex text present");
  check("rjsf: the key is not shown in the page", !(await page.textContent("body")).includes("secret-key-123"), "key visible");
  // Well.
  await page.fill("#root_account_domain", "mycompany");
  await page.fill("#root_advanced_start_date", "2024-01-31");
  await page.click("button[type=submit]");
  await page.waitForSelector("#submitted");
  const submitted = JSON.parse(await page.textContent("#submitted"));
  await page.evaluate(() => { document.getElementById("submitted").remove(); });
  await page.screenshot({ path: path.join(out, "rjsf-good.png"), fullPage: true });
  check("rjsf: a good form submits what was typed", submitted.account_domain === "mycompany" &&
    submitted.api_key === "secret-key-123" && submitted.advanced?.start_date === "2024-01-31", JSON.stringify({ ...submitted, api_key: "<hidden>" }));
  check("rjsf: no error left", (await page.$$(".error-detail")).length === 0, "errors remain");

  // ---- JSON Forms (vanilla renderers)
  await page.goto(base + "?r=jsonforms");
  await page.waitForSelector("#root input");
  const jfLabels = await page.$$eval("#root .control > label, #root fieldset.group-layout > legend",
    (ls) => ls.map((l) => l.textContent.replace("*", "").trim()));
  check("jsonforms: fields in the intended order", JSON.stringify(jfLabels.slice(0, 5)) ===
    JSON.stringify(["Credential name", "Description", "Account domain", "API key", "Advanced settings"]), jfLabels);
  const ids = { "Credential name": "name", Description: "description", "Account domain": "account_domain",
    "API key": "api_key", "Start date": "advanced/properties/start_date" };
  const control = (label) => page.locator(`[id="#/properties/${ids[label]}"]`);
  check("jsonforms: the key is masked", (await control("API key").locator("input").getAttribute("type")) === "password", "not type=password");
  check("jsonforms: the description is multi-line", (await control("Description").locator("textarea").count()) === 1, "no textarea");
  check("jsonforms: start date has a date picker", (await control("Start date").locator("input").getAttribute("type")) === "date", "not type=date");
  // Vanilla renderers show the description in place of an error: check fields without one.
  const descText = await control("Start date").locator(".input-description").textContent();
  check("jsonforms: help shown without focus", descText.includes("skip records last updated before this date"), JSON.stringify(descText));
  await control("Credential name").locator("input").fill("Production CRM");
  await control("Account domain").locator("input").fill("my company!");
  await control("API key").locator("input").fill("secret-key-123");
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  const jfError = await control("Account domain").locator(".validation").textContent();
  await page.screenshot({ path: path.join(out, "jsonforms-bad.png"), fullPage: true });
  check("jsonforms: the readable error under the domain", jfError.includes(DOMAIN_MESSAGE), JSON.stringify(jfError));
  check("jsonforms: no regex shown", !(await page.textContent("#root")).includes("must match pattern"), "regex text present");
  await control("Account domain").locator("input").fill("mycompany.flowlu.com");
  await control("Start date").locator("input").fill("2024-01-31");
  await page.locator("body").click({ position: { x: 5, y: 5 } });
  const jfErrors = JSON.parse(await page.textContent("#errors"));
  await page.screenshot({ path: path.join(out, "jsonforms-good.png"), fullPage: true });
  check("jsonforms: a good form has no errors", jfErrors.length === 0, JSON.stringify(jfErrors));
  const domainNow = await control("Account domain").locator(".validation").textContent();
  check("jsonforms: the domain error is gone, its help is back", !domainNow.includes(DOMAIN_MESSAGE) &&
    domainNow.includes("The first part of your Flowlu address"), JSON.stringify(domainNow));
  check("no script error in the page", pageErrors.length === 0, pageErrors);
} catch (e) {
  check("the page could be driven", false, String(e).split("\n")[0]);
} finally {
  await browser.close();
  server.close();
}
console.log(`forms: ${passed} passed, ${failures.length} failed`);
console.log(`screenshots: ${out}`);
process.exit(failures.length ? 1 : 0);
