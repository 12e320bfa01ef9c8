import { test, expect, Page, BrowserContext } from "@playwright/test";
import { createHmac } from "node:crypto";
import { PASSKEY_URL } from "../playwright.config";
import { hydrated, logOut, newPerson, PASSWORD, register, visit } from "./helpers";

/** RFC 6238 (SHA-1, 6 digits, 30 s), written here from the RFC: an app the server did not write. */
function totp(base32: string, at = Date.now() / 1000): string {
  const alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567";
  let bits = "";
  for (const char of base32.replace(/[\s=]/g, "").toUpperCase()) {
    bits += alphabet.indexOf(char).toString(2).padStart(5, "0");
  }
  const key = Buffer.from(bits.match(/.{8}/g)!.map((byte) => parseInt(byte, 2)));
  const counter = Buffer.alloc(8);
  counter.writeBigUInt64BE(BigInt(Math.floor(at / 30)));
  const mac = createHmac("sha1", key).update(counter).digest();
  const offset = mac[mac.length - 1] & 0xf;
  const value = (mac.readUInt32BE(offset) & 0x7fffffff) % 1_000_000;
  return value.toString().padStart(6, "0");
}

/**
 * Chromium's virtual authenticator (CTAP2, resident keys, user verification), for this page.
 * `present(false)` makes it stop answering, as a person who does not touch it: the login page's
 * autofill request (conditional mediation) then waits, as it does until someone picks a passkey.
 */
async function virtualAuthenticator(context: BrowserContext, page: Page) {
  const cdp = await context.newCDPSession(page);
  await cdp.send("WebAuthn.enable");
  const { authenticatorId } = await cdp.send("WebAuthn.addVirtualAuthenticator", {
    options: {
      protocol: "ctap2",
      transport: "internal",
      hasResidentKey: true,
      hasUserVerification: true,
      isUserVerified: true,
      automaticPresenceSimulation: true,
    },
  });
  return {
    present: (enabled: boolean) =>
      cdp.send("WebAuthn.setAutomaticPresenceSimulation", { authenticatorId, enabled }),
  };
}

async function addPasskey(page: Page) {
  await visit(page, `${PASSKEY_URL}/security`);
  const passkeys = page.getByRole("region", { name: "Passkeys" });
  await passkeys.getByRole("button", { name: "Add a passkey" }).click();
  await expect(page.getByRole("status").first()).toContainText("Your passkey was added");
  await expect(passkeys.getByRole("button", { name: "Remove" })).toHaveCount(1);
  // The first second factor comes with ten recovery codes, shown once.
  await expect(page.getByRole("list", { name: "Recovery codes" }).getByRole("listitem")).toHaveCount(10);
}

test.describe("passkeys", () => {
  test("add a passkey, then log in with it and no password: the button and the autofill", async ({ context, page }) => {
    const authenticator = await virtualAuthenticator(context, page);
    const person = newPerson("pk");
    await register(page, person, true, PASSKEY_URL);
    await addPasskey(page);
    await expect(page.getByRole("region", { name: "Recovery codes" })).toContainText("10 recovery codes left");
    await authenticator.present(false);
    await logOut(page);

    await visit(page, `${PASSKEY_URL}/login`);
    await expect(page.getByRole("textbox", { name: "Email" })).toHaveAttribute("autocomplete", "username webauthn");
    await authenticator.present(true);
    await page.getByRole("button", { name: "Log in with a passkey" }).click();
    await expect(page).toHaveURL(/\/profile$/);
    await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();
    await visit(page, `${PASSKEY_URL}/sessions`);
    await expect(page.locator("tr", { hasText: "This device" })).toContainText("Passkey");

    // The Email field's autofill: the virtual authenticator picks the passkey at once.
    await context.clearCookies();
    await page.goto(`${PASSKEY_URL}/login?next=%2Fsecurity`);
    await expect(page).toHaveURL(/\/security$/);
    await expect(page.getByRole("heading", { name: "Security" })).toBeVisible();
  });

  test("a passkey as the second step after a password, and removing it asks for the password", async ({ context, page }) => {
    const person = newPerson("pk2");
    const authenticator = await virtualAuthenticator(context, page);
    await register(page, person, true, PASSKEY_URL);
    await addPasskey(page);
    await authenticator.present(false);
    await logOut(page);

    await visit(page, `${PASSKEY_URL}/login?next=%2Fprojects`);
    await page.getByRole("textbox", { name: "Email" }).fill(person.email);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByRole("button", { name: "Log in", exact: true }).click();
    await expect(page).toHaveURL(/\/login\/verify/);
    await expect(page.getByRole("heading", { name: "Two-step verification" })).toBeVisible();
    await hydrated(page);
    await authenticator.present(true);
    await page.getByRole("button", { name: "Use a passkey" }).click();
    await expect(page).toHaveURL(/\/projects$/);
    await visit(page, `${PASSKEY_URL}/sessions`);
    await expect(page.locator("tr", { hasText: "This device" })).toContainText("Password and passkey");

    await visit(page, `${PASSKEY_URL}/security`);
    const passkeys = page.getByRole("region", { name: "Passkeys" });
    await passkeys.getByLabel("Passkey name").fill("Work laptop");
    await passkeys.getByRole("button", { name: "Rename" }).click();
    await expect(page.getByRole("status").first()).toContainText("The passkey was renamed.");
    await expect(passkeys.getByRole("listitem").first()).toContainText("Work laptop");
    await passkeys.getByRole("button", { name: "Remove" }).click();
    await expect(passkeys.getByRole("alert")).toContainText("Enter your current password.");
    await passkeys.getByLabel("Current password").fill(PASSWORD);
    await passkeys.getByRole("button", { name: "Remove" }).click();
    await expect(page.getByRole("status").first()).toContainText("The passkey was removed.");
    await expect(passkeys.getByRole("button", { name: "Remove" })).toHaveCount(0);
  });
});

test.describe("authenticator app, JavaScript off", () => {
  test.use({ javaScriptEnabled: false });

  test("set up an app, then log in with its code", async ({ page }) => {
    const person = newPerson("app");
    await register(page, person, false);
    await visit(page, "/security", false);
    await page.getByRole("button", { name: "Set up authenticator app" }).click();
    await expect(page.getByRole("img", { name: /QR code/ })).toBeVisible();
    const key = (await page.getByLabel("Setup key").textContent())!.trim();
    expect(key).toMatch(/^[A-Z2-7]{32}$/);
    const app = page.getByRole("region", { name: "Authenticator app" });
    await app.getByLabel("Code").fill("000000");
    await app.getByRole("button", { name: "Turn on" }).click();
    await expect(page.getByRole("alert")).toContainText("That code is not valid.");
    await app.getByLabel("Code").fill(totp(key));
    await app.getByRole("button", { name: "Turn on" }).click();
    await expect(page.getByRole("region", { name: "Authenticator app" })).toContainText("On");
    const codes = page.getByRole("list", { name: "Recovery codes" }).getByRole("listitem");
    await expect(codes).toHaveCount(10);
    await logOut(page);

    await visit(page, "/login", false);
    await page.getByLabel("Email").fill(person.email);
    await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
    await page.getByLabel("Remember me").check();
    await page.getByRole("button", { name: "Log in", exact: true }).click();
    await expect(page.getByRole("heading", { name: "Two-step verification" })).toBeVisible();
    await page.getByLabel("Code").fill("123456");
    await page.getByRole("button", { name: "Verify" }).click();
    await expect(page.getByRole("alert")).toContainText("That code is not valid.");
    // The turn-on code's step is spent: the next step's code (one step of clock skew).
    await page.getByLabel("Code").fill(totp(key, Date.now() / 1000 + 30));
    await page.getByRole("button", { name: "Verify" }).click();
    await expect(page).toHaveURL(/\/profile$/);
    const cookies = await page.context().cookies();
    const access = cookies.find((cookie) => cookie.name === "gatehouse_access");
    expect(access?.expires ?? -1).toBeGreaterThan(Date.now() / 1000 + 3600);
  });
});
