// A NAS cell drawn as a graph (the trial page's Architecture panel): the cell's two inputs on
// the left, its intermediate nodes, and the output that concatenates them; one coloured,
// labelled edge per chosen input and op ("zero" edges dashed: they carry nothing).
import { esc } from "../util.js";

const PALETTE = ["#4f46e5", "#0891b2", "#d97706", "#16a34a", "#db2777", "#7c3aed", "#0d9488", "#b45309", "#475569"];
const BOX_W = 58, BOX_H = 28, COL = 175, H = 250;

function opColors(cells) {
  const ops = [...new Set(Object.values(cells).flatMap((c) => c.edges.map((e) => e.op)))].sort();
  return Object.fromEntries(ops.map((op, i) => [op, op === "zero" ? "#a3a3a3" : PALETTE[i % PALETTE.length]]));
}

function cellSvg(kind, cell, colors) {
  const mid = H / 2;
  const pos = { "c_{k-2}": [20, mid - 70], "c_{k-1}": [20, mid + 70] };
  for (let k = 0; k < cell.nodes; k++) pos[`n${k}`] = [20 + COL * (k + 1), mid + (k % 2 ? 48 : -48)];
  const out = [20 + COL * (cell.nodes + 1), mid];
  const width = out[0] + BOX_W + 20;
  const box = (name, [x, y], label, cls) =>
    `<g class="cell-box ${cls}" data-name="${esc(name)}"><rect x="${x}" y="${y - BOX_H / 2}" width="${BOX_W}" height="${BOX_H}" rx="6"></rect>` +
    `<text x="${x + BOX_W / 2}" y="${y + 4}" text-anchor="middle">${esc(label)}</text></g>`;
  const curve = ([x1, y1], [x2, y2], bend) => {
    const a = [x1 + BOX_W, y1], b = [x2, y2];
    const cx = (a[0] + b[0]) / 2, cy = (a[1] + b[1]) / 2 + bend;
    return { d: `M${a[0]},${a[1]} Q${cx},${cy} ${b[0]},${b[1]}`, label: [cx, (a[1] + b[1]) / 4 + cy / 2] };
  };
  const edges = cell.edges.map((e) => {
    const c = curve(pos[e.from], pos[`n${e.node}`], e.slot ? 26 : -26);
    const color = colors[e.op];
    return `<g class="cell-edge" data-op="${esc(e.op)}" data-from="${esc(e.from)}" data-node="${e.node}">` +
      `<path d="${c.d}" fill="none" stroke="${color}" stroke-width="2.2"${e.op === "zero" ? ' stroke-dasharray="5 4"' : ""}></path>` +
      `<text x="${c.label[0]}" y="${c.label[1]}" text-anchor="middle" fill="${color}" class="cell-op">${esc(e.op)}</text></g>`;
  }).join("");
  const concat = Array.from({ length: cell.nodes }, (_, k) => curve(pos[`n${k}`], out, 0))
    .map((c) => `<path class="cell-concat" d="${c.d}" fill="none"></path>`).join("");
  const boxes = [
    box("c_{k-2}", pos["c_{k-2}"], "c[k-2]", "input"),
    box("c_{k-1}", pos["c_{k-1}"], "c[k-1]", "input"),
    ...Array.from({ length: cell.nodes }, (_, k) => box(`n${k}`, pos[`n${k}`], `node ${k}`, "node")),
    box("out", out, "concat", "output"),
  ].join("");
  return `<div class="cell-graph" data-kind="${esc(kind)}"><div class="hint">${esc(kind)} cell</div>` +
    `<svg viewBox="0 0 ${width} ${H}" width="${width}" height="${H}" role="img" aria-label="${esc(kind)} cell">${concat}${edges}${boxes}</svg></div>`;
}

/** The Architecture panel's body for ``arch`` = ``{source, cells}`` from the trial API. */
export function architectureHtml(arch) {
  const colors = opColors(arch.cells);
  const legend = Object.entries(colors)
    .map(([op, c]) => `<span class="cell-legend-item"><i style="background:${c}"></i>${esc(op)}</span>`).join("");
  const from = arch.source === "params" ? "the trial's parameters" : `<span class="mono">${esc(arch.source)}</span> in its directory`;
  return `<div class="hint" id="arch-source">From ${from}. Each node adds its two inputs, each through its op; the cell's output concatenates the nodes.</div>` +
    Object.entries(arch.cells).map(([kind, cell]) => cellSvg(kind, cell, colors)).join("") +
    `<div class="cell-legend">${legend}</div>`;
}
