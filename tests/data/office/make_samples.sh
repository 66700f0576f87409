#!/usr/bin/env bash
# Remake the Office samples of tests/document/test_office.py from the sources beside this file,
# with LibreOffice (Debian 12: libreoffice-writer-nogui, -calc-nogui, -impress-nogui 7.4).
# The outputs are committed; LibreOffice is not needed to run the tests.
set -euo pipefail
cd "$(dirname "${BASH_SOURCE[0]}")"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT
fill() {  # fill HEADER BODYMARK OUT: cong-van.fodt with the page header and the body's marking
  sed -e "s/@HEADER@/$1/" -e "s/@BODYMARK@/$2/" cong-van.fodt > "$work/$3.fodt"
}
fill "" "MẬT" cong-van-mat                # marked MẬT in the body
fill "MẬT" "" cong-van-mat-header         # marked only in the page header
fill "" "" cong-van                       # not marked
lo() { soffice --headless "-env:UserInstallation=file://$work/profile" "$@" >/dev/null; }
lo --convert-to 'doc:MS Word 97' --outdir . "$work"/cong-van*.fodt
lo --convert-to 'rtf:Rich Text Format' --outdir . "$work/cong-van-mat.fodt" \
   "$work/cong-van-mat-header.fodt"
lo --infilter=CSV:44,34,76 --convert-to 'xlsx:Calc MS Excel 2007 XML' --outdir . bao-cao.csv
lo --convert-to 'pptx:Impress MS PowerPoint 2007 XML' --outdir . trinh-chieu.fodp
lo --infilter=CSV:44,34,76 --convert-to 'xls:MS Excel 97' --outdir . bao-cao.csv
# A DOCX encrypted with the password "hunter2" (ECMA-376 agile encryption: an OLE file holding
# EncryptedPackage), as Word's "Encrypt with Password" writes it; needs msoffcrypto-tool.
lo --convert-to 'docx:MS Word 2007 XML' --outdir "$work" cong-van-mat.doc
python3 -c 'import sys; from msoffcrypto.format.ooxml import OOXMLFile
OOXMLFile(open(sys.argv[1], "rb")).encrypt("hunter2", open(sys.argv[2], "wb"))' \
  "$work/cong-van-mat.docx" cong-van-mat-password.docx
lo --convert-to 'ppt:MS PowerPoint 97' --outdir . trinh-chieu.fodp
lo --infilter=CSV:44,34,76 --convert-to 'ods:calc8' --outdir . bao-cao.csv
lo --convert-to 'odp:impress8' --outdir . trinh-chieu.fodp
