import { expect, test } from "@playwright/test";
import { logIn, logOut, newPerson, PASSWORD, register } from "../tests/helpers";

test("the release build serves hashed, compressed files and a person can log in", async ({ page }) => {
  const built: { url: string; encoding?: string; cache?: string }[] = [];
  page.on("response", (response) => {
    if (new URL(response.url()).pathname.startsWith("/pkg/")) {
      const headers = response.headers();
      built.push({ url: response.url(), encoding: headers["content-encoding"], cache: headers["cache-control"] });
    }
  });

  const person = newPerson("release");
  await register(page, person);
  for (const file of built) {
    expect(file.url).toMatch(/\/pkg\/gatehouse(_bg)?\.[A-Za-z0-9_-]{22}\.(js|wasm|css)$/);
    expect(file.cache).toBe("public, max-age=31536000, immutable");
    expect(["br", "gzip"]).toContain(file.encoding);
  }
  expect(built.map((f) => f.url.split(".").pop()).sort()).toEqual(["css", "js", "wasm"]);

  await logOut(page);
  await logIn(page, person.email, PASSWORD);
  await expect(page).toHaveURL(/\/profile$/);
  await expect(page.getByRole("heading", { name: "Your profile" })).toBeVisible();
  await expect(page.getByText(person.email)).toBeVisible();
});
