#!/usr/bin/env python3
"""Generates a synthetic university site for crawler benchmarks.

Usage: gen_site.py OUT_DIR [--pages N] [--hosts H] [--docs D]

Writes OUT_DIR/<host>/... (HTML pages of realistic size with Chinese and English prose,
navigation links, a few addresses per page in several forms), D notice documents (3-page
Chinese PDFs made with reportlab's STSong-Light CID font, as older Chinese office PDFs are;
`pip install reportlab` if it is missing), a
profile OUT_DIR/profile.toml and OUT_DIR/hosts.txt (one host per line). Deterministic
(seeded), so two runs give the same site.
"""
import argparse, os, random

ap = argparse.ArgumentParser()
ap.add_argument("out")
ap.add_argument("--pages", type=int, default=5000)
ap.add_argument("--hosts", type=int, default=10)
ap.add_argument("--docs", type=int, default=200)
args = ap.parse_args()
rnd = random.Random(42)

DOMAIN = "bench-univ.edu.cn"
hosts = ["www." + DOMAIN] + [f"dept{i}.{DOMAIN}" for i in range(1, args.hosts)]
ZH = ("学校召开教育教学工作会议，研究部署本学期重点工作。各学院要高度重视，认真落实学校邮箱使用规定，"
      "办公用邮箱一律使用学校邮件系统的邮箱，禁止将公共邮箱或免费邮箱用于办公。")
EN = ("The university held a teaching conference to plan the key work of this semester. "
      "Departments must use institutional mailboxes for official business. ")
FREE = ["qq.com", "163.com", "126.com", "sina.com", "gmail.com", "foxmail.com"]

def address(rnd, i):
    user = f"user{i}"
    kind = rnd.random()
    if kind < 0.6:
        return f"{user}@{DOMAIN}"
    if kind < 0.8:
        return f"{rnd.randint(100000, 99999999)}@{rnd.choice(FREE)}"
    if kind < 0.9:
        return f"{user}#{DOMAIN}（请将#替换为@）"
    return f"{user}[at]{DOMAIN}"

def pdf(path, addresses):
    """A 3-page notice, one address per page, Chinese text in a CID font."""
    from reportlab.pdfbase import pdfmetrics
    from reportlab.pdfbase.cidfonts import UnicodeCIDFont
    from reportlab.pdfgen import canvas
    if "STSong-Light" not in pdfmetrics.getRegisteredFontNames():
        pdfmetrics.registerFont(UnicodeCIDFont("STSong-Light"))
    c = canvas.Canvas(path)
    for page, addr in enumerate(addresses):
        c.setFont("STSong-Light", 11)
        y = 800
        c.drawString(60, y, f"关于规范学校电子邮箱使用的通知（第{page + 1}页）")
        for i in range(0, 400, 40):
            y -= 18
            c.drawString(60, y, ZH[i % len(ZH):i % len(ZH) + 40])
        y -= 18
        c.drawString(60, y, f"联系邮箱：{addr}")
        c.showPage()
    c.save()

per_host = max(1, args.pages // len(hosts))
paths = {h: ["/"] + [f"/news/{n}.html" for n in range(1, per_host)] for h in hosts}
docs_per_host = max(1, args.docs // len(hosts))
total = 0
for h in hosts:
    root = os.path.join(args.out, h)
    os.makedirs(os.path.join(root, "news"), exist_ok=True)
    os.makedirs(os.path.join(root, "files"), exist_ok=True)
    with open(os.path.join(root, "robots.txt"), "w") as f:
        f.write("User-agent: *\nDisallow: /private/\n")
    for n, p in enumerate(paths[h]):
        links = rnd.sample(paths[h], min(12, len(paths[h])))
        nav = "".join(f'<li><a href="{l}">新闻 {l}</a></li>' for l in links)
        nav += "".join(f'<li><a href="http://{o}/">{o}</a></li>' for o in hosts)
        if n < docs_per_host:
            nav += f'<li><a href="/files/notice{n}.pdf">附件 notice{n}.pdf</a></li>'
        body = "".join(
            f"<p>{ZH}{EN}联系人：张老师，邮箱：{address(rnd, n * 10 + k)}，电话：0411-{rnd.randint(1000000, 9999999)}。</p>"
            for k in range(rnd.randint(2, 5))
        )
        filler = "".join(f"<p>{ZH * 2}</p><p>{EN * 3}</p>" for _ in range(rnd.randint(3, 8)))
        html = (f"<!DOCTYPE html><html><head><meta charset=\"utf-8\"><title>{h} 第{n}页</title>"
                f"<style>@media (max-width: 600px) {{ body {{ font-size: 14px }} }}</style></head>"
                f"<body><ul class=\"nav\">{nav}</ul><div class=\"content\">{body}{filler}</div>"
                f"<img src=\"/img/logo@2x.png\"></body></html>")
        target = os.path.join(root, "index.html") if p == "/" else os.path.join(root, p.lstrip("/"))
        with open(target, "w", encoding="utf-8") as f:
            f.write(html)
        total += 1
    for n in range(docs_per_host):
        pdf(os.path.join(root, "files", f"notice{n}.pdf"), [address(rnd, 90000 + n * 3 + p) for p in range(3)])

with open(os.path.join(args.out, "hosts.txt"), "w") as f:
    f.write("\n".join(hosts) + "\n")
with open(os.path.join(args.out, "profile.toml"), "w") as f:
    f.write(f'''name = "bench"
seeds = ["http://www.{DOMAIN}/"]
domains = ["{DOMAIN}"]
[crawl]
max_pages = {args.pages * 2 + args.docs + 100}
max_depth = 50
delay_ms = 0
per_host_concurrency = 4
concurrency = 32
''')
print(f"{total} pages and {docs_per_host * len(hosts)} documents on {len(hosts)} hosts in {args.out}")
