package gen

// Reference tables of the generator. They are constants of the data model:
// nothing here changes at run time.

// Institutions and how many of the cards each issues (weights).
var institutions = []struct {
	code   string
	weight int
}{
	{"700", 30}, {"005", 15}, {"007", 15}, {"012", 12}, {"808", 12}, {"812", 16},
}

// panPrefix is the BIN-like start of a generated PAN of an institution: the
// post office's debit cards start 4700, the banks' labor protection cards
// 6 and the bank code (as the demo cards do).
func panPrefix(institution string) string {
	if institution == "700" {
		return "4700"
	}
	return "6" + institution
}

// idLetterValue is the two-digit value of the first letter of a national ID.
var idLetterValue = [26]int{
	10, 11, 12, 13, 14, 15, 16, 17, 34, 18, 19, 20, 21, // A-M
	22, 35, 23, 24, 25, 26, 27, 28, 29, 32, 30, 31, 33, // N-Z
}

var surnames = []struct {
	s string
	w int
}{
	{"陳", 112}, {"林", 83}, {"黃", 60}, {"張", 53}, {"李", 51}, {"王", 41}, {"吳", 40},
	{"劉", 32}, {"蔡", 29}, {"楊", 26}, {"許", 23}, {"鄭", 19}, {"謝", 18}, {"郭", 17},
	{"洪", 16}, {"曾", 15}, {"邱", 15}, {"廖", 15}, {"賴", 14}, {"周", 14}, {"徐", 13},
	{"蘇", 13}, {"葉", 13}, {"莊", 13}, {"呂", 12}, {"江", 11}, {"何", 11}, {"蕭", 10},
	{"羅", 10}, {"高", 10}, {"潘", 8}, {"簡", 8}, {"朱", 8}, {"鍾", 8}, {"游", 7},
	{"彭", 7}, {"詹", 7}, {"胡", 7}, {"施", 7}, {"沈", 7}, {"余", 6}, {"盧", 6},
	{"梁", 6}, {"趙", 6}, {"顏", 6}, {"柯", 6}, {"翁", 6}, {"魏", 5}, {"孫", 5},
	{"戴", 5}, {"范", 4}, {"方", 4}, {"宋", 4}, {"鄧", 4}, {"杜", 3}, {"傅", 3},
	{"侯", 3}, {"曹", 3}, {"歐陽", 1}, {"司馬", 1}, {"凃", 1},
}

var givenMale = []string{
	"志", "明", "俊", "傑", "建", "宏", "家", "豪", "冠", "宇", "承", "翰", "柏", "廷",
	"文", "雄", "國", "華", "政", "德", "信", "宗", "賢", "勝", "偉", "哲", "彥", "霖",
	"育", "誠", "威", "凱", "聖", "峰", "堃", "喆", "昇", "祐", "璟", "晧",
}

var givenFemale = []string{
	"淑", "芬", "美", "玲", "惠", "婷", "雅", "怡", "佳", "欣", "慧", "君", "秀", "英",
	"麗", "珍", "靜", "宜", "筱", "涵", "詩", "琪", "鈺", "萱", "思", "瑜", "如", "蓉",
	"宛", "玥", "珺", "淼", "菁", "馨", "翠", "碧", "月", "娟", "貞", "琇",
}

// rareGiven are characters of real names that Big5 lacks: the gateway shows
// them as ？.
var rareGiven = []string{"赟", "㯖", "彅"}

var places = []string{
	"台北", "新北", "桃園", "台中", "台南", "高雄", "新竹", "基隆", "嘉義", "彰化",
	"屏東", "宜蘭", "花蓮", "台東", "南投", "雲林", "苗栗", "澎湖", "金門", "竹北",
}

var brandWords = []string{
	"大同", "永豐", "長榮", "統一", "遠東", "富邦", "國泰", "新光", "光華", "建國",
	"中興", "宏達", "華新", "東元", "聯華", "和泰", "振興", "信義", "安泰", "百勝",
	"鴻運", "金鼎", "天成", "明德", "正新", "祥和", "瑞昌", "興業", "順發", "福記",
	"益群", "佳音", "立德", "群益", "日盛", "新世紀", "太平洋", "亞洲", "環球", "三陽",
	"台塑", "南亞", "寶成", "巨大", "友達", "仁寶", "廣達", "英業達", "欣興", "裕隆",
}

var industries = []string{
	"電子", "科技", "精密機械", "紡織", "食品", "營造", "貿易", "物流", "餐飲", "醫療器材",
	"塑膠", "化學", "印刷", "資訊", "電機", "鋼鐵", "汽車", "保全", "清潔", "旅行社",
	"超市", "文具", "光電", "半導體", "生技", "建設", "運輸", "百貨", "製藥", "模具",
}

var companySuffixes = []struct {
	s string
	w int
}{
	{"股份有限公司", 55}, {"有限公司", 25}, {"企業社", 5}, {"工業股份有限公司", 6},
	{"實業有限公司", 5}, {"商行", 2}, {"工作室", 2},
}

// Units that are not companies (public bodies, schools, hospitals,
// associations): "%s" is a place.
var publicUnits = []string{
	"%s市政府", "%s縣政府", "國立%s大學", "%s市立國民小學", "%s區農會", "%s榮民總醫院",
	"%s市立圖書館", "%s郵局", "%s縣消防局", "%s市環境保護局",
}

// Names over 20 Chinese characters (40 Big5 bytes): the DE62 unit column
// cuts them, the screen wraps or shortens them.
var longUnits = []string{
	"財團法人台灣省私立%s社會福利慈善事業基金會",
	"社團法人中華民國%s地區身心障礙者家長協會附設庇護工場",
	"%s區漁會附設冷凍加工廠暨生鮮超市股份有限公司",
}

// rareUnits hold a character Big5 lacks.
var rareUnits = []string{"%s赟達科技有限公司", "%s㯖園餐飲企業社"}

// grades are the monthly wage grades (TWD) the insured salary and the
// pension contribution wage are rounded up to. The insured salary of labor
// insurance stops at insuranceCap; the pension wage at the last grade.
var grades = []int64{
	11100, 12540, 13500, 15840, 16500, 17400, 18300, 19200, 20100, 21000, 21900,
	22800, 24000, 25200, 26400, 27600, 28800, 30300, 31800, 33300, 34800, 36300,
	38200, 40100, 42000, 43900, 45800, 48200, 50600, 53000, 55400, 57800, 60800,
	63800, 66800, 69800, 72800, 76500, 80200, 83900, 87600, 92100, 96600, 101100,
	105600, 110100, 115500, 120900, 126300, 131700, 137100, 142500, 147900, 150000,
}

const insuranceCap = 45800

// gradeUp rounds a wage up to its grade, no higher than max.
func gradeUp(wage, max int64) int64 {
	for _, g := range grades {
		if g >= wage {
			if g > max {
				return max
			}
			return g
		}
	}
	return max
}

// earningsRate is the yearly rate of return distributed to the pension
// accounts (per mille), negative in bad years. Years not listed: 2 %.
var earningsRate = map[int]int64{
	2006: 25, 2007: 10, 2008: -60, 2009: 90, 2010: 25, 2011: -30, 2012: 50,
	2013: 57, 2014: 64, 2015: 6, 2016: 32, 2017: 79, 2018: -19, 2019: 115,
	2020: 108, 2021: 132, 2022: -62, 2023: 122, 2024: 152, 2025: 96,
}

func rateOf(year int) int64 {
	if r, ok := earningsRate[year]; ok {
		return r
	}
	return 20
}
