import { describe, expect, it } from 'vitest';
import { renderMarkdown } from '../src/report/markdown.ts';

describe('runbook markdown → HTML', () => {
  it('renders headings, lists, task lists, code and emphasis', () => {
    const html = renderMarkdown(
      '## Steps\n1. Check `kubectl get pods`\n2. **Restart** the *pod*\n\n- [ ] owner\n- [x] done\n\n```\na < b && c\n```',
      3,
    );
    expect(html).toBe(
      [
        '<h5>Steps</h5>',
        '<ol><li>Check <code>kubectl get pods</code></li><li><strong>Restart</strong> the <em>pod</em></li></ol>',
        '<ul><li><span class="task">&#9744;</span> owner</li><li><span class="task">&#9745;</span> done</li></ul>',
        '<pre><code>a &lt; b &amp;&amp; c</code></pre>',
      ].join('\n'),
    );
  });

  it('escapes raw HTML and keeps only web links as anchors', () => {
    const html = renderMarkdown(
      '<img src=x onerror=alert(1)> [grafana](https://grafana.local/d/1) [x](javascript:alert(1)) `<b>`',
    );
    expect(html).not.toContain('<img');
    expect(html).toContain('&lt;img src=x onerror=alert(1)&gt;');
    expect(html).toContain('<a href="https://grafana.local/d/1" rel="noreferrer noopener">grafana</a>');
    expect(html).not.toContain('href="javascript');
    expect(html).toContain('<code>&lt;b&gt;</code>');
  });

  it('does not treat snake_case or 2*3*4 as emphasis', () => {
    expect(renderMarkdown('model_server_up and 2*3*4')).toBe('<p>model_server_up and 2*3*4</p>');
  });
});
