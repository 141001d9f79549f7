"""Japanese companies and people for the demo world, from Faker ja_JP, with valid identifiers."""

from __future__ import annotations

import random
from dataclasses import dataclass

# JIS X 0401 prefecture codes.
PREFECTURES = {
    "北海道": "01", "青森県": "02", "岩手県": "03", "宮城県": "04", "秋田県": "05", "山形県": "06",
    "福島県": "07", "茨城県": "08", "栃木県": "09", "群馬県": "10", "埼玉県": "11", "千葉県": "12",
    "東京都": "13", "神奈川県": "14", "新潟県": "15", "富山県": "16", "石川県": "17", "福井県": "18",
    "山梨県": "19", "長野県": "20", "岐阜県": "21", "静岡県": "22", "愛知県": "23", "三重県": "24",
    "滋賀県": "25", "京都府": "26", "大阪府": "27", "兵庫県": "28", "奈良県": "29", "和歌山県": "30",
    "鳥取県": "31", "島根県": "32", "岡山県": "33", "広島県": "34", "山口県": "35", "徳島県": "36",
    "香川県": "37", "愛媛県": "38", "高知県": "39", "福岡県": "40", "佐賀県": "41", "長崎県": "42",
    "熊本県": "43", "大分県": "44", "宮崎県": "45", "鹿児島県": "46", "沖縄県": "47",
}


def corporate_number_check_digit(base12: str) -> int:
    """法人番号 check digit: 9 − (Σ Pn×Qn mod 9), n counted from the right, Qn = 1 (odd n) or 2 (even n)."""
    if len(base12) != 12 or not base12.isdigit():
        raise ValueError("the base of a corporate number is 12 digits")
    total = sum(int(d) * (1 if n % 2 else 2) for n, d in enumerate(reversed(base12), start=1))
    return 9 - total % 9


def corporate_number(rng: random.Random) -> str:
    base = "".join(str(rng.randint(0, 9)) for _ in range(12))
    return f"{corporate_number_check_digit(base)}{base}"


def is_valid_corporate_number(number: str) -> bool:
    return len(number) == 13 and number.isdigit() and int(number[0]) == corporate_number_check_digit(number[1:])


@dataclass(frozen=True)
class Person:
    last_name: str
    first_name: str
    last_name_kana: str
    first_name_kana: str
    birthday: str  # YYYY-MM-DD
    phone: str

    @property
    def name(self) -> str:
        return f"{self.last_name}　{self.first_name}"

    @property
    def name_kana(self) -> str:
        return f"{self.last_name_kana}　{self.first_name_kana}"


@dataclass(frozen=True)
class Company:
    name: str
    name_kana: str
    corporate_number: str
    postal_code: str  # 7 digits, no hyphen
    prefecture: str
    prefecture_code: str
    city: str
    street: str
    representative: Person
    en_name: str = ""

    @property
    def address(self) -> str:
        return f"{self.prefecture}{self.city}{self.street}"


_BUSINESSES = [("商事", "ショウジ"), ("製作所", "セイサクショ"), ("建設", "ケンセツ"), ("運輸", "ウンユ"),
               ("食品", "ショクヒン"), ("電機", "デンキ"), ("物産", "ブッサン"), ("工業", "コウギョウ")]
_BUSINESSES_EN = {"商事": "Trading", "製作所": "Works", "建設": "Construction", "運輸": "Transport",
                  "食品": "Foods", "電機": "Electric", "物産": "Bussan", "工業": "Industries"}


class PeopleFactory:
    """Deterministic (seeded) Japanese people and companies."""

    def __init__(self, seed: int) -> None:
        from faker import Faker  # here, not at import: only making a world needs it (~0.1 s to import)

        self.faker = Faker("ja_JP")
        self.faker.seed_instance(seed)
        self.rng = random.Random(seed)

    def person(self) -> Person:
        f = self.faker
        last, last_kana, _ = f.last_name_pair()
        first, first_kana, _ = f.first_name_pair()
        return Person(
            last_name=last, first_name=first, last_name_kana=last_kana, first_name_kana=first_kana,
            birthday=f.date_of_birth(minimum_age=22, maximum_age=70).isoformat(),
            phone=f.phone_number(),
        )

    def company(self) -> Company:
        f = self.faker
        prefecture = f.prefecture()
        family, family_kana, family_roman = f.last_name_pair()
        kind, kind_kana = self.rng.choice(_BUSINESSES)
        return Company(
            name=f"株式会社{family}{kind}", name_kana=f"カブシキガイシャ{family_kana}{kind_kana}",
            corporate_number=corporate_number(self.rng),
            postal_code=f.zipcode().replace("-", ""), prefecture=prefecture,
            prefecture_code=PREFECTURES.get(prefecture, "13"), city=f.city(), street=f.town() + f.chome() + f.ban(),
            representative=self.person(), en_name=f"{family_roman} {_BUSINESSES_EN[kind]} Co., Ltd.",
        )

    def mobile_number(self) -> str:
        """A mobile number for SMS (070/080/090 + 8 digits, no hyphens)."""
        return f"0{self.rng.choice('789')}0{self.rng.randint(0, 99_999_999):08d}"
