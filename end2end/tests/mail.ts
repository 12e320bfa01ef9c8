import { expect } from "@playwright/test";
import * as fs from "node:fs";
import * as path from "node:path";
import { MAILDIR, MAIN_URL } from "../playwright.config";

/** A message as its reader sees it: quoted-printable decoded. */
function decoded(raw: string): string {
  const text = raw.replace(/\r\n/g, "\n");
  if (!/Content-Transfer-Encoding: quoted-printable/i.test(text)) return text;
  const joined = text.replace(/=\n/g, "");
  const bytes: number[] = [];
  for (let i = 0; i < joined.length; i++) {
    const hex = joined.slice(i + 1, i + 3);
    if (joined[i] === "=" && /^[0-9A-F]{2}$/.test(hex)) {
      bytes.push(parseInt(hex, 16));
      i += 2;
    } else {
      bytes.push(...Buffer.from(joined[i], "utf8"));
    }
  }
  return Buffer.from(bytes).toString("utf8");
}

function messages(): string[] {
  return ["new", "cur"].flatMap((box) => {
    const dir = path.join(MAILDIR, box);
    if (!fs.existsSync(dir)) return [];
    return fs.readdirSync(dir).map((name) => decoded(fs.readFileSync(path.join(dir, name), "utf8")));
  });
}

/** Waits for the mail to `to` about `subject` and returns the link it carries to `page`. */
export async function mailedLink(to: string, subject: string, page: string): Promise<string> {
  let link = "";
  await expect
    .poll(
      () => {
        const mail = messages().find(
          (m) => m.split("\n").some((l) => l.startsWith("To: ") && l.includes(to)) && m.includes(subject),
        );
        const found = mail?.match(new RegExp(`https?://[^\\s]+${page}\\?token=[A-Za-z0-9_-]+`));
        link = found ? found[0] : "";
        return link;
      },
      { timeout: 20_000, message: `a mail to ${to} about "${subject}"` },
    )
    .not.toBe("");
  expect(link.startsWith(MAIN_URL)).toBe(true);
  return link;
}
