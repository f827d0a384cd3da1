// The dashboard in headless Chromium, as a user meets it: load the address
// `ray dashboard` printed, see the peer, approve the waiting join request
// and see the new member appear.  node dashboard_ui.js URL PEER JOINER
"use strict";
const puppeteer = require("puppeteer-core");

(async () => {
  const [url, peer, joiner] = process.argv.slice(2);
  const browser = await puppeteer.launch({
    executablePath: process.env.CHROMIUM || "/usr/bin/chromium",
    headless: true,
    args: ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage"],
  });
  try {
    const page = await browser.newPage();
    page.on("pageerror", (e) => { console.error("page error: " + e.message); process.exitCode = 1; });
    await page.goto(url, { waitUntil: "domcontentloaded" });
    const hasPeer = (h) => [...document.querySelectorAll("tr.peer td.host")].some((e) => e.textContent === h);
    await page.waitForFunction(hasPeer, { timeout: 30000 }, peer);
    console.log("sees peer " + peer);
    if (new URL(page.url()).search !== "") throw new Error("the token stayed in the address bar");
    const button = `button[data-approve-host="${joiner}"]`;
    await page.waitForSelector(button, { timeout: 30000 });
    console.log("sees the join request from " + joiner);
    await page.click(button);
    await page.waitForFunction(hasPeer, { timeout: 60000 }, joiner);
    console.log("approved: " + joiner + " is a member");
  } finally {
    await browser.close();
  }
})().catch((e) => { console.error(e.message || e); process.exit(1); });
