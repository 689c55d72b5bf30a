// Prints where a V8 CPU profile (from `node --cpu-prof`) spent its time: the functions
// and the files with the most self time. Usage: node --import tsx bench/profile-summary.ts FILE.cpuprofile [TOP]
import fs from 'node:fs';
import path from 'node:path';
import { fmt, printTable } from './support';

interface ProfileNode {
  id: number;
  callFrame: { functionName: string; url: string; lineNumber: number };
  children?: number[];
}

interface Profile {
  nodes: ProfileNode[];
  samples: number[];
  timeDeltas: number[];
}

function main(): void {
  const [file, topText] = process.argv.slice(2);
  if (!file) throw new Error('Usage: bench/profile-summary.ts FILE.cpuprofile [TOP]; the file comes from node --cpu-prof.');
  const top = Number(topText ?? 25);
  const profile = JSON.parse(fs.readFileSync(file, 'utf8')) as Profile;
  const byId = new Map(profile.nodes.map((node) => [node.id, node]));
  const selfUs = new Map<number, number>();
  profile.samples.forEach((id, index) => selfUs.set(id, (selfUs.get(id) ?? 0) + (profile.timeDeltas[index] ?? 0)));
  const totalUs = profile.timeDeltas.reduce((sum, delta) => sum + delta, 0);

  const byFunction = new Map<string, number>();
  const byFile = new Map<string, number>();
  for (const [id, us] of selfUs) {
    const { functionName, url, lineNumber } = byId.get(id)!.callFrame;
    const shortUrl = url.replace(/^file:\/\//, '').replace(`${path.resolve(__dirname, '..')}/`, '');
    const where = shortUrl === '' ? '(native)' : shortUrl.replace(/^.*node_modules\//, 'node_modules/');
    const name = `${functionName || '(anonymous)'} ${where}:${lineNumber + 1}`;
    byFunction.set(name, (byFunction.get(name) ?? 0) + us);
    const group = where.startsWith('node_modules/') ? where.split('/').slice(0, where.startsWith('node_modules/@') ? 3 : 2).join('/') : where;
    byFile.set(group, (byFile.get(group) ?? 0) + us);
  }
  const rows = (map: Map<string, number>, label: string) =>
    [...map.entries()]
      .sort((a, b) => b[1] - a[1])
      .slice(0, top)
      .map(([key, us]) => ({ [label]: key, 'self ms': fmt(us / 1000), share: `${fmt((us / totalUs) * 100, 1)} %` }));
  console.log(`${file}: ${fmt(totalUs / 1000)} ms sampled\n`);
  printTable(rows(byFile, 'file or package'));
  printTable(rows(byFunction, 'function'));
}

main();
