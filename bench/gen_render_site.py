#!/usr/bin/env python3
"""A generated site for the rendering benchmark (issue #8): N pages on one host, every
20th of them (5%) an app shell whose contact address is written by a script after an XHR;
the others ordinary server-built pages with text, links and an address.

    python3 bench/gen_render_site.py OUT --pages 400
"""
import argparse
import os

p = argparse.ArgumentParser()
p.add_argument("out")
p.add_argument("--pages", type=int, default=400)
a = p.parse_args()
host = "www.render-bench.edu.cn"
root = os.path.join(a.out, host)
os.makedirs(os.path.join(root, "p"), exist_ok=True)
os.makedirs(os.path.join(root, "api"), exist_ok=True)
TEXT = "本页面由服务器生成。学院概况、师资队伍、人才培养、科学研究、合作交流等栏目的内容在此发布，公开的联系邮箱应当使用学校邮箱。" * 6


def links(i):
    return "".join(f'<li><a href="/p/{(i * 7 + k) % a.pages}.html">页面 {k}</a></li>' for k in range(1, 11))


for i in range(a.pages):
    if i % 20 == 10:
        body = (f'<div id="app"></div><ul>{links(i)}</ul>'
                f'<script>fetch("/api/{i}.json").then(r=>r.json()).then(d=>{{'
                f'document.getElementById("app").textContent="联系："+d.email;}});</script>')
        with open(os.path.join(root, "api", f"{i}.json"), "w") as f:
            f.write('{"email": "app%d@qq.com"}' % i)
    else:
        body = f"<h1>页面 {i}</h1><p>{TEXT}</p><p>联系邮箱 page{i}@render-bench.edu.cn</p><ul>{links(i)}</ul>"
    html = f'<!DOCTYPE html><html><head><meta charset="utf-8"><title>页面 {i}</title></head><body>{body}</body></html>'
    with open(os.path.join(root, "p", f"{i}.html"), "w") as f:
        f.write(html)
with open(os.path.join(root, "index.html"), "w") as f:
    f.write('<!DOCTYPE html><html><head><meta charset="utf-8"><title>渲染基准</title></head><body>'
            f"<p>{TEXT}</p><ul>" + "".join(f'<li><a href="/p/{i}.html">{i}</a></li>' for i in range(a.pages)) + "</ul></body></html>")
with open(os.path.join(a.out, "profile.toml"), "w") as f:
    f.write(f'''name = "渲染基准"
seeds = ["http://{host}/"]
domains = ["render-bench.edu.cn"]
[crawl]
max_pages = {a.pages + 10}
delay_ms = 0
sitemaps = false
[render]
concurrency = 2
timeout_secs = 20
settle_ms = 300
''')
print(host)
