// A deliberately small Markdown → HTML renderer for runbook sections shown in the report: headings,
// paragraphs, ordered/unordered/task lists, fenced code, inline code, bold, italic and links. Everything
// is escaped first; no raw HTML from a runbook ever reaches the page.

export function escapeHtml(s: string): string {
  return s
    .replace(/&/g, '&amp;')
    .replace(/</g, '&lt;')
    .replace(/>/g, '&gt;')
    .replace(/"/g, '&quot;')
    .replace(/'/g, '&#39;');
}

/** Inline markup on already-escaped text. */
function inline(escaped: string): string {
  const codes: string[] = [];
  // Code spans first so their content is not touched by the emphasis rules.
  let s = escaped.replace(/`([^`]+)`/g, (_, c: string) => {
    codes.push(`<code>${c}</code>`);
    return `\uE000${codes.length - 1}\uE000`;
  });
  s = s
    .replace(/\*\*([^*]+)\*\*/g, '<strong>$1</strong>')
    .replace(/__([^_]+)__/g, '<strong>$1</strong>')
    .replace(/(^|[^*\w])\*([^*\s][^*]*)\*(?!\w)/g, '$1<em>$2</em>')
    .replace(/(^|[^_\w])_([^_\s][^_]*)_(?!\w)/g, '$1<em>$2</em>')
    // Only web links become anchors (they load nothing until clicked); anything else stays text.
    .replace(/\[([^\]]+)\]\((https?:\/\/[^\s)]+)\)/g, '<a href="$2" rel="noreferrer noopener">$1</a>');
  return s.replace(/\uE000(\d+)\uE000/g, (_, i: string) => codes[Number(i)]);
}

type ListKind = 'ul' | 'ol';

/**
 * Renders Markdown. `headingOffset` shifts heading levels so a runbook's `##` sits below the report's
 * own headings (h4 and lower by default).
 */
export function renderMarkdown(md: string, headingOffset = 3): string {
  // U+E000 (private use) delimits code-span placeholders in inline(); it cannot come from the input.
  const lines = md
    .replace(/\r\n?/g, '\n')
    .replace(/\uE000/g, '')
    .split('\n');
  const out: string[] = [];
  let para: string[] = [];
  let list: { kind: ListKind; items: string[] } | null = null;
  const flushPara = () => {
    if (para.length) out.push(`<p>${inline(escapeHtml(para.join(' ')))}</p>`);
    para = [];
  };
  const flushList = () => {
    if (list) out.push(`<${list.kind}>${list.items.map((i) => `<li>${i}</li>`).join('')}</${list.kind}>`);
    list = null;
  };
  for (let i = 0; i < lines.length; i++) {
    const line = lines[i];
    const fence = /^\s*(```|~~~)/.exec(line);
    if (fence) {
      flushPara();
      flushList();
      const body: string[] = [];
      for (i++; i < lines.length && !lines[i].trimStart().startsWith(fence[1]); i++) body.push(lines[i]);
      out.push(`<pre><code>${escapeHtml(body.join('\n'))}</code></pre>`);
      continue;
    }
    if (!line.trim()) {
      flushPara();
      flushList();
      continue;
    }
    const h = /^(#{1,6})\s+(.*?)\s*#*\s*$/.exec(line);
    if (h) {
      flushPara();
      flushList();
      const level = Math.min(6, h[1].length + headingOffset);
      out.push(`<h${level}>${inline(escapeHtml(h[2]))}</h${level}>`);
      continue;
    }
    const li = /^\s*(?:([-*+])|(\d+)[.)])\s+(.*)$/.exec(line);
    if (li) {
      flushPara();
      const kind: ListKind = li[1] ? 'ul' : 'ol';
      if (list && list.kind !== kind) flushList();
      list ??= { kind, items: [] };
      const task = /^\[( |x|X)\]\s+(.*)$/.exec(li[3]);
      list.items.push(
        task
          ? `<span class="task">${task[1] === ' ' ? '&#9744;' : '&#9745;'}</span> ${inline(escapeHtml(task[2]))}`
          : inline(escapeHtml(li[3])),
      );
      continue;
    }
    if (list && /^\s{2,}\S/.test(line)) {
      // Continuation of the previous list item.
      const l = list as { kind: ListKind; items: string[] };
      l.items[l.items.length - 1] += ` ${inline(escapeHtml(line.trim()))}`;
      continue;
    }
    flushList();
    para.push(line.trim());
  }
  flushPara();
  flushList();
  return out.join('\n');
}
