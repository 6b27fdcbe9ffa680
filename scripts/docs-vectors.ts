/**
 * Rewrites the test vectors of docs/PROTOCOL.md (the lines between the vectors markers) from the
 * code. Run by `npm run docs:vectors` after a build; test/unit/protocol/docVectors.test.ts checks
 * the result. Everything outside the markers is left as it is.
 */
import { readFileSync, writeFileSync } from 'fs';
import { resolve } from 'path';
import { renderVectorsMarkdown, replaceVectors } from '../test/unit/protocol/vectors';

async function main(): Promise<void> {
  const file = resolve(process.argv[2] ?? 'docs/PROTOCOL.md');
  const doc = readFileSync(file, 'utf8');
  let updated: string;
  try {
    updated = replaceVectors(doc, await renderVectorsMarkdown());
  } catch (err) {
    throw new Error(`${file}: ${(err as Error).message}`);
  }
  if (updated === doc) {
    console.log(`${file}: test vectors already up to date`);
    return;
  }
  writeFileSync(file, updated);
  console.log(`${file}: test vectors rewritten`);
}

main().catch((err: unknown) => {
  console.error(`docs:vectors: ${err instanceof Error ? err.message : String(err)}`);
  process.exitCode = 1;
});
