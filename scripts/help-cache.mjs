// Run by scripts/build.mjs after bundling, in a child whose stdout is a pipe (so commander wraps
// help at 80 columns, as it does for any output that is not a terminal). Renders every command
// line src/cli.ts's helpForms() lists through the real CLI and prints dist/help-cache.json's
// content: { "forms": { "<argv joined by NUL>": <text index> }, "texts": [ ... ] }. A form is kept
// only when it exits 0 with nothing on stderr: whatever else it does is left to the real CLI.
const { run, helpForms } = await import(new URL('../dist/cli.js', import.meta.url).href);

const texts = [];
const forms = {};
for (const argv of helpForms()) {
  let out = '';
  let err = '';
  const sink = (append) => ({ write: (s) => (append(String(s)), true), isTTY: false });
  const code = await run(argv, {}, { stdout: sink((s) => (out += s)), stderr: sink((s) => (err += s)), stdin: process.stdin });
  if (code !== 0 || err !== '' || out === '') continue;
  let i = texts.indexOf(out);
  if (i < 0) i = texts.push(out) - 1;
  forms[argv.join('\0')] = i;
}
process.stdout.write(JSON.stringify({ forms, texts }));
