package recgen

// Word lists. Names are common Central Asian and Russian names with their
// usual Latin transliteration; organisations, banks and places are
// invented or generic. Nothing here describes a real person or case.

type nm struct{ latin, cyr string }

// gendered is a surname or patronymic with its male and female forms.
type gendered struct{ m, f nm }

func (g gendered) form(female, cyr bool) string {
	n := g.m
	if female {
		n = g.f
	}
	if cyr {
		return n.cyr
	}
	return n.latin
}

// surname makes the male and female forms of a surname ending in -ov, -ev
// or -in.
func surname(latin, cyr string) gendered {
	return gendered{nm{latin, cyr}, nm{latin + "a", cyr + "а"}}
}

var firstNames = [2][]nm{{
	{"Ivan", "Иван"}, {"Sergey", "Сергей"}, {"Nurlan", "Нурлан"}, {"Rustam", "Рустам"}, {"Timur", "Тимур"},
	{"Aibek", "Айбек"}, {"Bakhtiyar", "Бахтияр"}, {"Dmitry", "Дмитрий"}, {"Alexei", "Алексей"}, {"Farrukh", "Фаррух"},
	{"Dilshod", "Дилшод"}, {"Azamat", "Азамат"}, {"Yerlan", "Ерлан"}, {"Marat", "Марат"}, {"Olzhas", "Олжас"},
	{"Kairat", "Кайрат"}, {"Sherzod", "Шерзод"}, {"Jamshid", "Джамшид"}, {"Vladimir", "Владимир"}, {"Nikolai", "Николай"},
	{"Ruslan", "Руслан"}, {"Bekzod", "Бекзод"}, {"Daniyar", "Данияр"}, {"Ilyas", "Ильяс"}, {"Murod", "Мурод"},
}, {
	{"Aigul", "Айгуль"}, {"Gulnara", "Гульнара"}, {"Olga", "Ольга"}, {"Dilnoza", "Дилноза"}, {"Madina", "Мадина"},
	{"Aliya", "Алия"}, {"Saule", "Сауле"}, {"Natalia", "Наталья"}, {"Zarina", "Зарина"}, {"Kamila", "Камила"},
	{"Elena", "Елена"}, {"Nigora", "Нигора"}, {"Asel", "Асель"}, {"Irina", "Ирина"}, {"Feruza", "Феруза"},
}}

var lastNames = []gendered{
	surname("Petrov", "Петров"), surname("Serikov", "Сериков"), surname("Saidov", "Саидов"), surname("Karimov", "Каримов"),
	surname("Yusupov", "Юсупов"), surname("Rakhmonov", "Рахмонов"), surname("Bakiev", "Бакиев"), surname("Abdullaev", "Абдуллаев"),
	surname("Nurmagambetov", "Нурмагамбетов"), surname("Ivanov", "Иванов"), surname("Smirnov", "Смирнов"), surname("Tokayev", "Токаев"),
	surname("Mirzoev", "Мирзоев"), surname("Akhmetov", "Ахметов"), surname("Zhumabaev", "Жумабаев"), surname("Kuznetsov", "Кузнецов"),
	surname("Sultanov", "Султанов"), surname("Ismailov", "Исмаилов"), surname("Tursunov", "Турсунов"), surname("Orlov", "Орлов"),
	surname("Kasymov", "Касымов"), surname("Aliev", "Алиев"), surname("Nazarov", "Назаров"), surname("Usmanov", "Усманов"),
	surname("Zakirov", "Закиров"), surname("Baimukhanov", "Баймуханов"), surname("Ergashev", "Эргашев"), surname("Kholov", "Холов"),
	surname("Pugin", "Пугин"), surname("Zhakupov", "Жакупов"), surname("Temirov", "Темиров"), surname("Osmonov", "Осмонов"),
}

var patronymics = []gendered{
	{nm{"Sergeyevich", "Сергеевич"}, nm{"Sergeyevna", "Сергеевна"}},
	{nm{"Nurlanovich", "Нурланович"}, nm{"Nurlanovna", "Нурлановна"}},
	{nm{"Rustamovich", "Рустамович"}, nm{"Rustamovna", "Рустамовна"}},
	{nm{"Ivanovich", "Иванович"}, nm{"Ivanovna", "Ивановна"}},
	{nm{"Bakhtiyarovich", "Бахтиярович"}, nm{"Bakhtiyarovna", "Бахтияровна"}},
	{nm{"Maratovich", "Маратович"}, nm{"Maratovna", "Маратовна"}},
	{nm{"Timurovich", "Тимурович"}, nm{"Timurovna", "Тимуровна"}},
	{nm{"Alexeyevich", "Алексеевич"}, nm{"Alexeyevna", "Алексеевна"}},
}

var nicknames = []string{"Vanya", "Seryoga", "Tima", "Rusik", "Kara", "Doktor", "Bek", "Aka", "Kazakh", "Starik",
	"Borodach", "Chorny", "Tolstyi", "Khan", "Sultan", "Baron", "Tamozhnik", "Ryzhiy", "Малыш", "Профессор", "Шах"}

var cities = []string{"Almaty", "Astana", "Shymkent", "Bishkek", "Osh", "Tashkent", "Samarkand", "Dushanbe", "Khujand",
	"Ashgabat", "Aktobe", "Karaganda", "Termez", "Kunduz", "Mazar-i-Sharif", "Novosibirsk", "Omsk", "Yekaterinburg",
	"Moscow", "Istanbul", "Dubai", "Алматы", "Бишкек", "Душанбе", "Ташкент"}

var nationalities = []string{"kz", "kz", "kz", "kg", "kg", "tj", "tj", "uz", "uz", "tm", "ru", "ru", "af", "ir", "pk", "tr", "az", "ua"}

func passportPrefix(country string) string {
	switch country {
	case "kz":
		return "N0"
	case "kg":
		return "AC"
	case "tj":
		return "40"
	case "uz":
		return "FA"
	case "ru":
		return "75"
	case "af":
		return "P0"
	}
	return "PX"
}

var personTopics = []string{"crime", "crime.traffick.drug", "crime.traffick.drug", "crime.terror", "crime.fin", "sanction", "poi", "crime.boss"}

var authorities = []string{"Ministry of Internal Affairs", "State Registration Service", "Migration Service", "Ministry of Foreign Affairs", "МВД"}

var orgStems = []nm{
	{"Steppe Logistics", "Степь Логистикс"}, {"Silk Road Trading", "Шелковый Путь Трейдинг"}, {"Altyn Invest", "Алтын Инвест"},
	{"Pamir Transit", "Памир Транзит"}, {"Nomad Agro", "Номад Агро"}, {"Tengri Capital", "Тенгри Капитал"},
	{"Fergana Cotton", "Фергана Коттон"}, {"Caspian Energy Services", "Каспий Энерджи Сервис"}, {"Issyk-Kul Tour", "Иссык-Куль Тур"},
	{"Zerafshan Mining", "Зерафшан Майнинг"}, {"Aral Fish Export", "Арал Фиш Экспорт"}, {"Orda Security", "Орда Секьюрити"},
	{"Baikonur Chemicals", "Байконур Кемикалс"}, {"Turan Exchange", "Туран Эксчейндж"}, {"Kyzyl Tash Stroy", "Кызыл Таш Строй"},
}

var legalForms = []nm{{"LLP", "ТОО"}, {"LLC", "ООО"}, {"JSC", "АО"}, {"FZE", "ФЗЕ"}}

var orgCountries = []string{"kz", "kz", "kg", "uz", "tj", "ru", "ae", "tr", "cy", "gb", "lv", "hk"}

var streets = []string{"Abay Ave", "Dostyk St", "Lenin St", "Navoi St", "Rudaki Ave", "Chui Ave", "Amir Temur St", "ул. Мира", "пр. Абая"}

var orgTopics = []string{"crime", "crime.traffick.drug", "corp.shell", "crime.terror", "fin", "corp.offshore"}

var sectors = []string{"logistics", "wholesale trade", "construction", "mining", "money exchange", "chemicals", "tourism", "agriculture"}

var currencies = []string{"USD", "USD", "EUR", "RUB", "KZT", "KGS", "UZS", "TJS", "AED", "TRY", "CNY"}

var roles = []string{"member", "courier", "financier", "leader", "recruiter", "driver", "accountant", "supplier"}

var legalBases = []string{"share purchase agreement", "founding charter", "nominee agreement", "inheritance", "trust deed"}

// ibanCountry is an IBAN country with its BBAN layout: 'n' a digit, 'a'
// an uppercase letter.
type ibanCountry struct {
	code, country, format string
}

var ibanCountries = []ibanCountry{
	{"KZ", "kz", "nnnnnnnnnnnnnnnn"},          // 20
	{"KZ", "kz", "nnnnnnnnnnnnnnnn"},          // 20
	{"TR", "tr", "nnnnnnnnnnnnnnnnnnnnnn"},    // 26
	{"AE", "ae", "nnnnnnnnnnnnnnnnnnn"},       // 23
	{"AZ", "az", "aaaannnnnnnnnnnnnnnnnnnn"},  // 28
	{"GE", "ge", "aannnnnnnnnnnnnnnn"},        // 22
	{"UA", "ua", "nnnnnnnnnnnnnnnnnnnnnnnnn"}, // 29
	{"CY", "cy", "nnnnnnnnnnnnnnnnnnnnnnnn"},  // 28
	{"LV", "lv", "aaaannnnnnnnnnnnn"},         // 21
	{"GB", "gb", "aaaannnnnnnnnnnnnn"},        // 22
	{"DE", "de", "nnnnnnnnnnnnnnnnnn"},        // 22
	{"PK", "pk", "aaaannnnnnnnnnnnnnnn"},      // 24
}

var banks = []struct{ name, bic string }{
	{"Steppe Commercial Bank", "STPBKZKA"}, {"Bank Turan Alem", "TRNAKZKX"}, {"Fergana Valley Bank", "FVBKUZ22"},
	{"Pamir Savings Bank", "PMSBTJ22"}, {"Gulf Trade Bank", "GTBKAEAD"}, {"Anatolia Finans", "ANFITRIS"},
	{"Limassol Private Bank", "LPBKCY2N"}, {"Baltic Trust Bank", "BTBKLV2X"}, {"Bishkek Credit Bank", "BKCBKG22"},
}

var purposes = []string{
	"payment for goods under contract 14/2023",
	"loan repayment",
	"consulting services",
	"transport services, invoice 771",
	"purchase of dried fruit",
	"charitable donation",
	"оплата по договору поставки",
	"возврат займа",
	"prepayment for construction materials",
	"family support",
}
