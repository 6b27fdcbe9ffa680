#!/usr/bin/env node
// Prints the functions with the most self time in a .cpuprofile: node scripts/cpuprofile-top.js FILE [N]
'use strict';
const fs = require('node:fs');

const profile = JSON.parse(fs.readFileSync(process.argv[2], 'utf8'));
const limit = Number(process.argv[3] || 25);
const nodes = new Map(profile.nodes.map((node) => [node.id, node]));
const selfTime = new Map();
let total = 0;
profile.samples.forEach((id, i) => {
  const dt = profile.timeDeltas[i] || 0;
  total += dt;
  const frame = nodes.get(id).callFrame;
  const key = `${frame.functionName || '(anonymous)'} ${frame.url.split('/').slice(-2).join('/')}:${frame.lineNumber + 1}`;
  selfTime.set(key, (selfTime.get(key) || 0) + dt);
});
console.log(`total ${(total / 1000).toFixed(0)} ms`);
for (const [key, time] of [...selfTime].sort((a, b) => b[1] - a[1]).slice(0, limit)) {
  console.log(`${(time / 1000).toFixed(1).padStart(8)} ms ${((100 * time) / total).toFixed(1).padStart(5)}%  ${key}`);
}
