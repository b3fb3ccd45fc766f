"""Word lists for the Chinese name and address recognizers, written from public knowledge.

* Surnames: the common single-character surnames of the Hundred Family Surnames (百家姓) that rank
  among the most frequent in China's population registers (the Ministry of Public Security publishes
  the top-100 list yearly), plus the classical compound surnames (复姓). Not taken from Faker (the
  simulator uses Faker; the recognizers must not know its lists).
* Kinship and role words that precede or follow a person's name in visit notes.
* Characters that do not occur inside a given name (particles, pronouns, frequent verbs), used to
  stop a name match.
"""

from __future__ import annotations

SINGLE_SURNAMES = frozenset(
    "王李张刘陈杨黄赵吴周徐孙马朱胡郭何高林罗郑梁谢宋唐许韩冯邓曹彭曾肖田董袁潘于蒋蔡余杜叶程苏魏吕丁"
    "任沈姚卢姜崔钟谭陆汪范金石廖贾夏韦付傅方白邹孟熊秦邱江尹薛闫阎段雷侯龙史陶黎贺顾毛郝龚邵万钱严"
    "覃武戴莫孔向汤常温康施文牛樊葛邢安齐易乔伍庞颜倪庄聂章鲁岳翟殷詹申欧耿关兰焦俞左柳甘祝包宁尚符"
    "舒阮柯纪梅童凌毕单季裴霍涂成苗谷盛曲翁冉骆蓝路游辛靳管柴蒙鲍华喻祁蒲房滕屈饶解牟艾尤阳时穆农司"
    "卓古吉缪简车项连芦麦褚娄窦戚岑景党宫费卜冷晏席卫米柏宗瞿桂全佟应臧闵苟邬边卞姬师和仇栾隋商刁沙"
    "荣巫寇桑郎甄丛仲虞敖巩明佘池查麻苑迟邝官封谈匡鞠惠荆乐冀郁胥南班储原栗燕楚鄢劳谌奚皮粟冼蔺楼盘"
    "满闻位厉伊仝区郜海阚花权强帅屠豆朴盖练廉禹井祖漆巴丰支卿国狄平计索宣晋相初门云容敬来扈晁芮普阙"
    "浦戈伏鹿薄邸雍辜羊裘亓修邰赫杭况那宿鲜印逯隆茹诸慕危玉银亢嵇湛宾戎勾茅利於居揭干尉斯元束檀衣信"
    "展阴昝智幸奉植衡富尧闭由"
    # further surnames of the Hundred Family Surnames (百家姓) and frequent modern ones (萧 beside 肖,
    # 冶 of the Hui); characters that are mostly ordinary words (家, 山, 能, 后, 水, 红 …) are left out
    "萧凤花俞酆昌倪卞贝臧伏茅屈麻危梅刁柯经裘贲洪钮滑荀羿汲邴糜松乌弓牧隗宓蓬郗仰暴钭韶蓟怀鄂籍赖"
    "苍莘贡逄扶堵宰郦璩濮寿郏庾暨殳沃蔚夔厍訾乜鞠蒯竺桓冶"
)

COMPOUND_SURNAMES = frozenset(
    ["欧阳", "司马", "上官", "诸葛", "东方", "皇甫", "尉迟", "公孙", "慕容", "令狐", "长孙", "宇文", "司徒", "夏侯", "轩辕", "端木", "独孤", "南宫", "西门", "申屠", "万俟", "闻人", "澹台", "公冶", "宗政", "濮阳", "太史", "仲孙", "钟离", "东郭", "呼延", "百里", "赫连", "拓跋", "第五", "左丘", "谷梁", "南门", "羊舌", "微生", "梁丘", "公良", "乐正", "漆雕", "壤驷", "颛孙", "巫马"]
)

#: Surname characters that are also frequent function words; they count as a surname only after a
#: role word (奶奶于…), never before an honorific (向老师 = "to the teacher").
FUNCTION_SURNAMES = frozenset("于向和常从都时成安全文明平原来相信由区干计那初利展位乐居班修门单")

#: Words naming a person's role or kinship; a name often follows them (奶奶王秀英, 监护人：李芳).
ROLES_BEFORE = ["外祖父", "外祖母", "祖父", "祖母", "爷爷", "奶奶", "外公", "外婆", "姥姥", "姥爷", "父亲", "母亲", "爸爸", "妈妈", "继父", "继母", "养父", "养母", "哥哥", "姐姐", "弟弟", "妹妹", "叔叔", "阿姨", "伯伯", "伯父", "伯母", "舅舅", "舅妈", "姑姑", "姑父", "姨妈", "姨父", "婶婶", "表哥", "表姐", "堂哥", "堂姐", "监护人", "儿童", "孩子", "孙子", "孙女", "外孙", "外孙女", "儿子", "女儿", "学生", "同学", "班主任", "老师", "校长", "医生", "护士", "邻居", "村干部", "书记", "主任", "儿童主任", "督导员", "网格员", "民警", "社工", "志愿者", "户主", "其父", "其母", "其兄", "其姐", "患儿", "该童", "该生", "亲戚", "丈夫", "妻子", "配偶", "前夫", "前妻", "联系人", "走访人", "申请人", "姓名", "名叫", "叫做", "名字是"]

#: Honorifics after a surname: 张老师, 李阿姨 (the surname alone is the person's name part).
HONORIFICS_AFTER = ["老师", "医生", "阿姨", "叔叔", "大爷", "大妈", "大伯", "大婶", "奶奶", "爷爷", "婆婆", "师傅", "书记", "主任", "校长", "警官", "同学", "女士", "先生", "老板", "大姐", "大哥", "阿婆", "阿公"]

#: Kinship words after a name: 小明妈妈, 王小明的奶奶.
KIN_AFTER = ["妈妈", "爸爸", "奶奶", "爷爷", "外婆", "外公", "姥姥", "姥爷", "父亲", "母亲", "哥哥", "姐姐", "弟弟", "妹妹", "叔叔", "阿姨", "舅舅", "姑姑", "一家", "家长", "同学", "班主任"]

#: Place / organisation suffixes: a candidate followed by one of these is a place, not a person
#: (文新街道, 王家村, 江某村).
PLACE_SUFFIXES = ["街道", "社区", "村", "镇", "乡", "路", "街", "巷", "弄", "小区", "小学", "中学", "学校", "幼儿园", "医院", "公司", "区", "县", "市", "省", "派出所", "大队", "家园", "花园", "新村", "公寓", "大厦", "广场", "集团", "工厂", "厂", "店", "站", "桥", "湖", "山", "江", "河", "寺", "所", "局", "院"]

#: Characters that never occur inside a given name: particles, pronouns, very frequent verbs and
#: time/measure words. A name match stops before them (父亲王强在杭州 → 王强). Not 可, 之 or 月, which
#: are frequent in given names (可欣, 之琳, 明月).
NOT_IN_GIVEN_NAME = frozenset(
    "的了在是和与及或也都就还又把被给对向从到说讲去来要会能很不没有这那个们我你他她它年日时号岁元"
    "次今昨后前里外上下等已因为所以但而且并于将其此每各该某打住回带送看让叫问找病地得着过吧呢啊吗嘛"
    "，。、；：？！（）《》“”‘’ "
)

#: Common words that are never names even if they begin with a surname character (beyond jieba's
#: dictionary, which is consulted too).
NEVER_NAMES = frozenset(
    set(ROLES_BEFORE) | set(HONORIFICS_AFTER) | set(KIN_AFTER)
    | set(["孙子", "孙女", "高兴", "周末", "方便", "于是", "常常", "安全", "全部", "全家", "文化", "明天", "时间", "关心", "关于", "钱包", "金额", "马上", "白天", "夏天", "严重", "温度", "和平", "程度", "许多", "石头", "江南", "杭州", "余杭", "萧山", "钱塘", "富阳", "临平", "临安", "桐庐", "淳安", "建德", "上城", "拱墅", "西湖", "滨江", "宁波", "温州", "金华", "衢州", "台州", "丽水", "舒服", "成绩", "成长", "应该", "方面", "高中", "高度", "万元", "程序", "任务", "任何", "沈阳", "包括", "管理", "连续", "单独", "单亲", "毛病", "祝福", "宁可", "项目", "向上", "常住", "和睦", "孟浪", "姜汤", "雷雨", "龙门", "史上", "鲁莽", "黎明", "顾及", "顾虑", "谈话", "查看", "查询", "查到"])
)
