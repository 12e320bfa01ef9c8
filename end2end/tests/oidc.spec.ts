import { test, expect } from "@playwright/test";
import { spawnSync } from "node:child_process";
import * as http from "node:http";
import * as path from "node:path";
import { MAIN_URL } from "../playwright.config";
import { addClient, grantAdmin, hydrated, newPerson, PASSWORD, register, visit } from "./helpers";

// An independent relying party: npm's openid-client (certified by the OpenID Foundation) does
// discovery, PKCE, the authorization URL, ID-token validation with the JWK set, `iss` in the
// response (RFC 9207), userinfo, refresh, introspection, revocation and the logout URL.
// The app's own pages are a tiny HTTP server here: the browser lands on its callback.
const APP = "http://127.0.0.1:3199";
const CALLBACK = `${APP}/callback`;
const BYE = `${APP}/bye`;

type Oidc = typeof import("openid-client");
const oidc = (): Promise<Oidc> => import("openid-client");

let appServer: http.Server;
test.beforeAll(async () => {
  appServer = http.createServer((_, response) => {
    response.writeHead(200, { "content-type": "text/html" });
    response.end("<!doctype html><title>The app</title><h1>The app</h1>");
  });
  await new Promise<void>((resolve) => appServer.listen(3199, "127.0.0.1", resolve));
});
test.afterAll(async () => {
  await new Promise((resolve) => appServer.close(resolve));
});

async function relyingParty(clientId: string, secret?: string) {
  const client = await oidc();
  const auth = secret ? client.ClientSecretBasic(secret) : client.None();
  const config = await client.discovery(new URL(MAIN_URL), clientId, {}, auth, {
    execute: [client.allowInsecureRequests],
  });
  return { client, config };
}

async function startLogin(rp: Awaited<ReturnType<typeof relyingParty>>, scope: string) {
  const verifier = rp.client.randomPKCECodeVerifier();
  const state = rp.client.randomState();
  const nonce = rp.client.randomNonce();
  const url = rp.client.buildAuthorizationUrl(rp.config, {
    redirect_uri: CALLBACK,
    scope,
    code_challenge: await rp.client.calculatePKCECodeChallenge(verifier),
    code_challenge_method: "S256",
    state,
    nonce,
  });
  return { url: url.href, verifier, state, nonce };
}

test("an app added on /admin/apps logs a person in through Gatehouse with an independent OpenID client", async ({ browser }) => {
  // An admin registers the app.
  const admin = newPerson("boss");
  const adminPage = await (await browser.newContext()).newPage();
  await register(adminPage, admin);
  grantAdmin(admin.email);
  await visit(adminPage, "/admin/apps");
  await expect(adminPage.getByRole("heading", { name: "Apps", exact: true })).toBeVisible();
  const form = adminPage.getByRole("form", { name: "Add app" });
  await form.getByLabel("Name").fill("Team wiki");
  await form.getByLabel("Redirect URIs").fill(CALLBACK);
  await form.getByLabel("Addresses after logout").fill(BYE);
  await form.getByRole("button", { name: "Add app" }).click();
  await expect(adminPage.getByRole("heading", { name: "App added" })).toBeVisible();
  const clientId = (await adminPage.locator("[data-client-id]").textContent())!.trim();
  const secret = (await adminPage.locator("[data-client-secret]").textContent())!.trim();
  expect(secret.length).toBeGreaterThan(30);
  await expect(adminPage.getByRole("row", { name: /Team wiki/ })).toBeVisible();
  // Shown once.
  await adminPage.reload();
  await expect(adminPage.locator("[data-client-secret]")).toHaveCount(0);

  // A person who is not logged in follows the app's link: log in, allow, back to the app.
  const person = newPerson("reader");
  const context = await browser.newContext();
  const page = await context.newPage();
  await register(page, person);
  await page.getByRole("navigation").getByRole("button", { name: "Log out" }).click();
  await expect(page).toHaveURL(/\/login/);
  const rp = await relyingParty(clientId, secret);
  const login = await startLogin(rp, "openid profile email offline_access");
  await page.goto(login.url);
  await expect(page).toHaveURL(/\/login\?next=/);
  await hydrated(page);
  await page.getByLabel("Email").fill(person.email);
  await page.getByLabel("Password", { exact: true }).fill(PASSWORD);
  await page.getByRole("button", { name: "Log in", exact: true }).click();
  await expect(page.getByRole("heading", { name: "Allow Team wiki to log you in?" })).toBeVisible();
  await expect(page.getByText("See your email address")).toBeVisible();
  await page.getByRole("button", { name: "Allow" }).click();
  await page.waitForURL(/127\.0\.0\.1:3199\/callback/);

  const tokens = await rp.client.authorizationCodeGrant(rp.config, new URL(page.url()), {
    pkceCodeVerifier: login.verifier,
    expectedState: login.state,
    expectedNonce: login.nonce,
    idTokenExpected: true,
  });
  const claims = tokens.claims()!;
  expect(claims.email).toBe(person.email);
  expect(claims.preferred_username).toBe(person.username);
  expect(claims.sub).not.toContain("@");
  expect(claims.amr).toEqual(["pwd"]);
  expect(typeof claims.auth_time).toBe("number");
  const info = await rp.client.fetchUserInfo(rp.config, tokens.access_token, claims.sub);
  expect(info.email).toBe(person.email);

  // The README's resource server (Authlib) accepts the access token with the JWK set alone,
  // and refuses the ID token and a tampered token.
  const api = (token: string) =>
    spawnSync(path.join(__dirname, "..", "..", ".venv", "bin", "python"), [
      path.join(__dirname, "..", "examples", "protect_api.py"), MAIN_URL, clientId, token,
    ], { encoding: "utf8" });
  const accepted = api(tokens.access_token);
  expect(accepted.status, accepted.stderr).toBe(0);
  expect(JSON.parse(accepted.stdout).sub).toBe(claims.sub);
  expect(api(tokens.id_token!).stderr).toContain("not an access token");
  expect(api(tokens.access_token.slice(0, -3) + "AAA").status).toBe(1);

  // Refresh rotates; introspection sees the new access token.
  const renewed = await rp.client.refreshTokenGrant(rp.config, tokens.refresh_token!);
  expect(renewed.refresh_token).not.toBe(tokens.refresh_token);
  const live = await rp.client.tokenIntrospection(rp.config, renewed.access_token);
  expect(live.active).toBe(true);
  expect(live.client_id).toBe(clientId);

  // The same app again: the consent is remembered, no page in between.
  const again = await startLogin(rp, "openid email");
  await page.goto(again.url);
  await page.waitForURL(/127\.0\.0\.1:3199\/callback/);
  const second = await rp.client.authorizationCodeGrant(rp.config, new URL(page.url()), {
    pkceCodeVerifier: again.verifier,
    expectedState: again.state,
    expectedNonce: again.nonce,
  });
  expect(second.claims()!.sub).toBe(claims.sub);

  // "Connected apps" lists it; "Remove access" ends its tokens at once.
  await visit(page, "/profile");
  await page.getByRole("navigation").getByRole("link", { name: "Connected apps" }).click();
  await expect(page.getByRole("heading", { name: "Connected apps" })).toBeVisible();
  const row = page.getByRole("row", { name: /Team wiki/ });
  await expect(row).toBeVisible();
  await row.getByRole("button", { name: "Remove access" }).click();
  await expect(page.getByText("You have not allowed any app yet.")).toBeVisible();
  const dead = await rp.client.tokenIntrospection(rp.config, renewed.access_token);
  expect(dead.active).toBe(false);
  await expect(rp.client.refreshTokenGrant(rp.config, renewed.refresh_token!)).rejects.toThrow();

  // The app logs the person out and gets them back at its registered address.
  const logout = rp.client.buildEndSessionUrl(rp.config, {
    id_token_hint: second.id_token!,
    post_logout_redirect_uri: BYE,
    state: "bye-state",
  });
  await page.goto(logout.href);
  await page.waitForURL(/127\.0\.0\.1:3199\/bye\?state=bye-state/);
  await page.goto("/profile");
  await expect(page).toHaveURL(/\/login/);
});

test("Deny goes back to the app with access_denied; a public app uses PKCE alone", async ({ page }) => {
  const app = addClient("--name", "Phone app", "--redirect-uri", CALLBACK, "--public");
  expect(app.client_secret).toBeUndefined();
  const person = newPerson("denier");
  await register(page, person);
  const rp = await relyingParty(app.client_id);
  const refused = await startLogin(rp, "openid");
  await page.goto(refused.url);
  await expect(page.getByRole("heading", { name: "Allow Phone app to log you in?" })).toBeVisible();
  await page.getByRole("button", { name: "Deny" }).click();
  await page.waitForURL(/127\.0\.0\.1:3199\/callback/);
  const back = new URL(page.url());
  expect(back.searchParams.get("error")).toBe("access_denied");
  expect(back.searchParams.get("state")).toBe(refused.state);
  await expect(
    rp.client.authorizationCodeGrant(rp.config, back, {
      pkceCodeVerifier: refused.verifier,
      expectedState: refused.state,
    }),
  ).rejects.toMatchObject({ error: "access_denied" });

  const allowed = await startLogin(rp, "openid");
  await page.goto(allowed.url);
  await page.getByRole("button", { name: "Allow" }).click();
  await page.waitForURL(/127\.0\.0\.1:3199\/callback/);
  const tokens = await rp.client.authorizationCodeGrant(rp.config, new URL(page.url()), {
    pkceCodeVerifier: allowed.verifier,
    expectedState: allowed.state,
    expectedNonce: allowed.nonce,
  });
  expect(tokens.claims()!.email).toBeUndefined();
  expect(tokens.refresh_token).toBeUndefined();
});

test("an unregistered redirect URI gets an error page, not a redirect", async ({ page }) => {
  const app = addClient("--name", "Strict app", "--redirect-uri", CALLBACK);
  const answer = await page.goto(
    `/oauth/authorize?response_type=code&client_id=${app.client_id}&redirect_uri=${encodeURIComponent("http://127.0.0.1:3199/elsewhere")}&scope=openid&code_challenge=E9Melhoa2OwvFrEMTJguCHaoeK1t8URWbuGJSstw-cM&code_challenge_method=S256`,
  );
  expect(answer!.status()).toBe(400);
  await expect(page.getByRole("heading", { name: "Cannot log in to this app" })).toBeVisible();
  expect(page.url()).toContain(MAIN_URL);
});
