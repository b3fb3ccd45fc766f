"""Regenerates the hand-written messy files in ``hand/`` (synthetic people, checksum-valid IDs).

The files are committed; this script only documents how each byte was made:
``.venv/bin/python tests/privacy/messy/make_hand_files.py``.
"""

from __future__ import annotations

import csv
import io
from pathlib import Path

from openpyxl import Workbook

from privacy.identifiers import ric_check_char

HERE = Path(__file__).resolve().parent / "hand"


def rid(area: str, birth: str, seq: str) -> str:
    body = area + birth + seq
    return body + ric_check_char(body)


K = [rid("330106", f"2015{m:02d}1{m % 9}", f"{100 + m:03d}") for m in range(1, 13)]
A = [rid("330110", f"19{70 + m}0{1 + m % 9}15", f"{200 + m:03d}") for m in range(1, 13)]
NAMES = ["王小明", "李小红", "赵家乐", "孙悦然", "周子涵", "吴宇航", "郑思远", "冯佳怡", "陈俊杰", "褚诗琪", "卫雨桐", "蒋梓轩"]


def csv_text(rows, delim=","):
    buf = io.StringIO()
    w = csv.writer(buf, delimiter=delim, lineterminator="\n")
    w.writerows(rows)
    return buf.getvalue()


def write(name: str, data: bytes | str, enc: str = "utf-8") -> None:
    (HERE / name).write_bytes(data if isinstance(data, bytes) else data.encode(enc))


def main() -> None:
    HERE.mkdir(parents=True, exist_ok=True)
    chk = ["证件号码", "体检日期", "身高（cm）", "体重（kg）", "是否按时"]
    write("h01_体检_证件号码.csv", csv_text([chk] + [[K[i], "2025-03-0" + str(1 + i % 9), "101.5", "20", "是"] for i in range(6)]))
    rp = ["姓名", "身份证号", "居住地址", "区县", "街道", "社区", "户籍地", "登记日期", "注销日期"]
    write("h02_流动人口_GBK.csv", csv_text([rp] + [[NAMES[i], A[i], f"滨江区长河路{i}号", "滨江区", "长河街道", "长河社区",
                                                   "安徽省", "2024/5/1", ""] for i in range(6)]), "gbk")
    write("h03_社保_UTF16制表符.txt", csv_text([["公民身份号码", "参保地", "缴费月份", "单位名称"]]
                                             + [[A[i], "苏州市", "2025-0" + str(1 + i), "某某电子厂"] for i in range(5)], "\t"),
          "utf-16")
    write("h04_无法解码.csv", b"\xd0\xd5\xc3\xfb,\xff\xfe\xfa\n\x81\x30\xff\xff,1\n")
    write("h05_两表皆可.csv", csv_text([["姓名", "公民身份号码"]] + [[NAMES[i], A[i]] for i in range(3)]))
    write("h06_不认识的表.csv", csv_text([["序号", "事项", "完成情况"], ["1", "培训", "已完成"]]))
    write("h08_同一列两次.csv", csv_text([["公民身份号码", "身份证号", "体检日期"], [K[0], K[0], "2025-03-01"]]))
    si = [["公民身份号码", "参保地", "缴费月份", "单位名称"]] + [[A[i], "杭州市", "202503", "某某公司"] for i in range(4)]
    si += [["合计", "", "", "4人"], ["制表人：周老师", "", "", ""], ["审核人：", "", "", ""]]
    write("h09_社保_合计与签名行.csv", csv_text(si))
    write("h10_羁押_多出逗号.csv", "公民身份号码,姓名,羁押开始日期,预计释放日期,实际释放日期\n"
          f"{A[0]},{NAMES[0]},2024-01-01,2026-01-01,\n{A[1]},{NAMES[1]},2024-02-01,2027-01-01,,多出来的,内容\n"
          f"{A[2]},{NAMES[2]},2023-05-01,2025-05-01,2025-05-01\n")
    wb = Workbook()
    ws = wb.active
    ws.append(["登记编号", "儿童姓名", "儿童公民身份号码", "儿童类别", "区(县、市)", "乡镇(街道)", "村(社区)", "登记日期"])
    for i in range(6):
        ws.append([f"D{i}", NAMES[i], K[i], "留守儿童", "淳安县" if i == 0 else None, "千岛湖镇" if i in (0, 3) else None,
                   "青溪村" if i in (0, 3) else None, "2025-01-01"])
        ws.cell(row=i + 2, column=3).number_format = "@"
    for ref in ("E2:E7", "F2:F4", "G2:G4", "F5:F7", "G5:G7"):
        ws.merge_cells(ref)
    wb.save(HERE / "h12_台账_数据区合并单元格.xlsx")
    cr = ["登记编号", "儿童姓名", "儿童公民身份号码", "儿童类别", "区(县、市)", "乡镇(街道)", "村(社区)", "登记日期"]
    write("h13_类别不在选项.csv", csv_text([cr, ["E1", NAMES[0], K[0], "留 守 儿 童", "西湖区", "文新街道", "文新社区", "2025-1-1"],
                                            ["E2", NAMES[1], K[1], "单亲儿童", "西湖区", "文新街道", "文新社区", "2025-1-1"],
                                            ["E3", NAMES[2], K[2], "孤儿", "西湖区", "文新街道", "文新社区", "2025-1-1"]]))
    se = ["学籍号", "姓名", "公民身份号码", "学校", "学籍状态", "状态变动日期", "家长电话"]
    write("h14_学籍_服务号码.csv", csv_text([se, ["G" + K[0], NAMES[0], K[0], "一小", "在读", "2025-02-17", "400-800-0000"],
                                            ["G" + K[1], NAMES[1], K[1], "一小", "在读", "2025-02-17", "12345"],
                                            ["G" + K[2], NAMES[2], K[2], "一小", "转学", "2025-02-17", "0571-88880000"]]))
    write("h15_必填项为无.csv", csv_text([cr, ["F1", NAMES[0], K[0], "孤儿", "西湖区", "无", "文新社区", "2025-01-01"],
                                          ["F2", NAMES[1], K[1], "孤儿", "西湖区", "/", "文新社区", "2025-01-01"],
                                          ["F3", NAMES[2], K[2], "孤儿", "西湖区", "\u3000", "文新社区", "2025-01-01"],
                                          ["F4", NAMES[3], K[3], "孤儿", "西湖区", "文新街道", "文新社区", "2025-01-01"]]))
    write("h16_老格式.xls", b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1" + b"\x00" * 120)
    write("h17_说明.md", "# 本文件夹说明\n")
    write("~$h18_台账.xlsx", b"\x00lock")
    hh = ["姓名", "公民身份号码", "性别", "出生日期", "户号", "户口性质", "区(县、市)", "乡镇(街道)", "村(社区)", "登记日期"]
    write("h19_户籍_出生日期在未来.csv", csv_text([hh, [NAMES[0], K[0], "男", "2030-01-01", "330106001", "农业家庭户口", "西湖区",
                                                     "文新街道", "文新社区", "2025-01-01"],
                                                    [NAMES[1], K[1], "女", "2015-02-12", "330106002", "农业家庭户口", "西湖区",
                                                     "文新街道", "文新社区", "2025-01-01"]]))
    write("h20_社保_月份写法.csv", csv_text([["公民身份号码", "参保地", "费款所属期"], [A[0], "杭州市", "202503"],
                                             [A[1], "杭州市", "2025年3月"], [A[2], "杭州市", "20253"], [A[3], "杭州市", "2025.03"]]))
    vr = ["走访编号", "走访日期", "儿童公民身份号码", "监护评估", "录入日期"]
    write("h21_走访_编号重复.csv", csv_text([vr, ["V1", "2025-05-01", K[0], "良好", "2025-05-02"],
                                             ["V1", "2025-05-01", K[0], "良好", "2025-05-02"],
                                             ["V2", "2025-05-01", K[1], "良好", "2025-05-02"],
                                             ["V2", "2025-05-03", K[1], "一般", "2025-05-04"],
                                             ["V3", "2025-05-01", K[2], "监护缺失", "2025-05-02"]]))
    wb = Workbook()
    wb.remove(wb.active)
    ws = wb.create_sheet("填表说明")
    ws.append(["请按下表填写，身份证号列设为文本格式。"])
    ws = wb.create_sheet("残疾人证")
    ws.append(["残疾人证号", "姓名", "公民身份号码", "残疾类别", "残疾等级", "发证日期"])
    for i in range(3):
        ws.append([K[i] + "24", NAMES[i], K[i], "肢体", "二级", 45717 + i])
    wb.save(HERE / "h22_残联_说明页加数据页.xlsx")
    write("h23_缺勤_UTF8带BOM.csv", "\ufeff" + csv_text([["全国学籍号", "月份", "缺勤天数", "应出勤天数"]]
                                                      + [["G" + K[i], "2025年3月", f"{i}天", "22天"] for i in range(4)]))
    write("h24_伤害_空白行与全角.csv", csv_text([["公民身份号码", "就诊日期", "伤害类型", "就诊医院"],
                                                 [K[0].translate(str.maketrans("0123456789", "０１２３４５６７８９")), "２０２５年３月１日", "跌倒", "市一医院"],
                                                 ["", "", "", ""], [K[1], "2025/3/2", "烧烫伤", "市一医院"]]))

    audit_files()


def rid_x(area: str, birth: str) -> str:
    """A checksum-valid ID whose check character is X."""
    for seq in range(100, 1000):
        body = f"{area}{birth}{seq:03d}"
        if ric_check_char(body) == "X":
            return body + "X"
    raise AssertionError("no X check character")  # pragma: no cover


FW = str.maketrans("0123456789ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz",
                   "０１２３４５６７８９ＡＢＣＤＥＦＧＨＩＪＫＬＭＮＯＰＱＲＳＴＵＶＷＸＹＺ"
                   "ａｂｃｄｅｆｇｈｉｊｋｌｍｎｏｐｑｒｓｔｕｖｗｘｙｚ")
KX = [rid_x("330106", f"20160{m}2{m}") for m in range(1, 4)]


def audit_files() -> None:
    """Cases of issue 7 the other files did not cover (the audit of 2026-11-30)."""
    # the encoding is detected from the bytes, never from the name: GBK bytes in a file named UTF8
    rp = ["姓名", "身份证号", "居住地址", "区县", "街道", "社区", "户籍地", "登记日期", "注销日期"]
    write("h25_居住证_UTF8.csv", csv_text([rp] + [[NAMES[6 + i], A[6 + i], f"西湖区文三路{i}号", "西湖区", "文新街道",
                                                   "文新社区", "安徽省", "2024/5/1", ""] for i in range(4)]), "gbk")
    # full-width letters: 学籍号 Ｇ…, check character Ｘ and ｘ (full-width, upper and lower case)
    se = ["学籍号", "姓名", "公民身份号码", "学校", "学籍状态", "状态变动日期"]
    write("h26_学籍_全角字母.csv", csv_text([se,
                                           [("G" + KX[0]).translate(FW), NAMES[0], KX[0].translate(FW), "二小", "在读", "2025-02-17"],
                                           ["Ｇ" + KX[1], NAMES[1], KX[1][:-1] + "ｘ", "二小", "在读", "2025-02-17"],
                                           ["ｇ" + KX[2], NAMES[2], KX[2][:-1].translate(FW) + "ｘ", "二小", "在读", "2025-02-17"]]))


if __name__ == "__main__":
    main()
