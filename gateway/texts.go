package gateway

// Screen texts (DE61) of the answers other than an approved inquiry. Every
// 0210 carries one; limits.Message fits it to the terminal's screen.
const (
	textFormat         = "交易資料格式錯誤，請洽發卡單位"
	textNotSignedOn    = "系統忙碌中，請稍後再試"
	textInstitution    = "交易機構代號不符，請洽發卡單位"
	textMAC            = "押碼檢核錯誤，請洽發卡單位"
	textDuplicate      = "重複交易，請重新操作"
	textUnknownService = "本機不提供此項查詢服務"
	textNotChip        = "請使用晶片卡進行查詢"
	textExpired        = "卡片已逾有效期限，請洽發卡單位"
	textNoConsent      = "未申請勞保局資料查詢服務，請洽發卡單位"
	textRevoked        = "勞保局資料查詢服務已終止，請洽發卡單位"
	textNotConsented   = "未同意此項查詢服務，請洽發卡單位"
	textMismatch       = "身分資料不符，請洽發卡單位或勞保局"
	textATC            = "晶片卡檢核錯誤，請重新插卡"
	textRate           = "查詢次數過多，請稍後再試"
	textUnavailable    = "系統忙碌中，請稍後再試"
	textBadMTI         = "交易類別錯誤"
)
