#!/usr/bin/env bash
# Regenerates the demo university's attachments with LibreOffice (Debian:
# libreoffice-writer-nogui libreoffice-calc-nogui fonts-wqy-zenhei). The outputs are committed;
# run this only to change them, then update src/demo/site/EXPECTED.md.
set -euo pipefail
cd "$(dirname "$0")"
SITE=site
TMP=$(mktemp -d)
trap 'rm -rf "$TMP"' EXIT

cat > "$TMP/hr-notice.html" <<'HTML'
<html><head><meta charset="utf-8"><title>人事处招聘通知</title></head><body>
<h1>演示理工大学2024年公开招聘工作人员公告</h1>
<p>根据工作需要，我校面向社会公开招聘工作人员若干名。报名材料请发送至人事处邮箱 rencai@demo-univ.edu.cn。</p>
<p style="page-break-before: always">附：咨询电话 0411-12345678。</p>
<p>（旧公告中的报名邮箱 hr_zhaopin@163.com 已停止使用。）</p>
</body></html>
HTML
cat > "$TMP/kaowu.html" <<'HTML'
<html><head><meta charset="utf-8"><title>考务通知</title></head><body>
<h1>关于做好期末考试考务工作的通知</h1>
<p>各学院：请于考试前一周将监考安排表报送教务处考务科，邮箱 kaowu#demo-univ.edu.cn（请将#替换为@）。</p>
<p>如有疑问，可联系 jwc_kw2024@qq.com。</p>
</body></html>
HTML
printf '姓名,职务,邮箱\n王芳,实验室主任,wangfang@demo-univ.edu.cn\n赵强,实验员,math_lab@126.com\n' > "$TMP/名单.csv"

soffice --headless --convert-to pdf --outdir "$TMP" "$TMP/hr-notice.html" >/dev/null
soffice --headless --convert-to docx:"MS Word 2007 XML" --outdir "$TMP" "$TMP/kaowu.html" >/dev/null
soffice --headless --infilter=CSV:44,34,76,1 --convert-to xlsx --outdir "$TMP" "$TMP/名单.csv" >/dev/null

mkdir -p "$SITE/hr.demo-univ.edu.cn/files" "$SITE/www.demo-univ.edu.cn/jwc" "$SITE/math.demo-univ.edu.cn/files"
cp "$TMP/hr-notice.pdf" "$SITE/hr.demo-univ.edu.cn/files/notice.pdf"
# Served as download.jsp?id=... with a Content-Disposition name, as real attachment systems do.
cp "$TMP/kaowu.docx" "$SITE/www.demo-univ.edu.cn/jwc/download.jsp"
cp "$TMP/名单.xlsx" "$SITE/math.demo-univ.edu.cn/files/lab-contacts.xlsx"
ls -l "$SITE/hr.demo-univ.edu.cn/files/notice.pdf" "$SITE/www.demo-univ.edu.cn/jwc/download.jsp" "$SITE/math.demo-univ.edu.cn/files/lab-contacts.xlsx"
