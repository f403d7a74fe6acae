"""Words Faker does not have: product categories, nouns, qualifiers and price ranges.

Prices are in won; ``collect.pools`` rescales them for locales that use a minor unit.
"""

from __future__ import annotations

from typing import NamedTuple


class Category(NamedTuple):
    """One catalogue category: what its products are called and what they cost (won)."""

    name: str
    nouns: tuple[str, ...]
    min_price: int
    max_price: int


KOREAN = (
    Category(
        "패션의류", ("반팔 티셔츠", "후드티", "청바지", "니트", "원피스", "패딩 점퍼", "슬랙스", "셔츠"), 9_900, 189_000
    ),
    Category(
        "뷰티", ("수분크림", "선크림", "쿠션 팩트", "립스틱", "클렌징폼", "앰플 세럼", "마스크팩 10매"), 5_000, 89_000
    ),
    Category(
        "식품",
        ("유기농 쌀 10kg", "제주 감귤 5kg", "포기김치 3kg", "하루견과 30봉", "원두커피 1kg", "한우 불고기 세트"),
        4_900,
        129_000,
    ),
    Category(
        "가전디지털",
        ("무선 이어폰", "블루투스 스피커", "공기청정기", "로봇청소기", "전기밥솥", "27인치 모니터", "스마트워치"),
        19_900,
        1_490_000,
    ),
    Category(
        "생활용품", ("세탁세제 3L", "키친타월 12롤", "칫솔 세트", "리빙박스", "샴푸 1L", "물티슈 10팩"), 2_900, 49_000
    ),
    Category(
        "스포츠레저", ("요가매트", "러닝화", "캠핑 의자", "등산 배낭", "덤벨 세트", "자전거 헬멧"), 9_900, 390_000
    ),
    Category("도서", ("에세이", "장편소설", "자기계발서", "요리책", "여행 가이드북", "그림책"), 9_000, 35_000),
    Category("유아동", ("기저귀 대형", "아기 로션", "블록 장난감", "유아 카시트", "아기 물티슈"), 5_900, 399_000),
    Category(
        "가구인테리어", ("원목 책상", "사무용 의자", "침대 프레임", "수납장", "LED 스탠드", "러그"), 19_900, 890_000
    ),
)
KOREAN_QUALIFIERS = (
    "프리미엄",
    "베스트",
    "2025 신상",
    "대용량",
    "초경량",
    "데일리",
    "스페셜 에디션",
    "친환경",
    "가성비",
)
KOREAN_VARIANTS = ("블랙", "화이트", "네이비", "베이지", "그레이", "1+1", "2개입", "대형", "소형", "기본형")

ENGLISH = (
    Category(
        "Fashion", ("T-Shirt", "Hoodie", "Jeans", "Knit Sweater", "Dress", "Puffer Jacket", "Chinos"), 9_900, 189_000
    ),
    Category(
        "Beauty", ("Moisturizer", "Sunscreen", "Cushion Compact", "Lipstick", "Cleansing Foam", "Serum"), 5_000, 89_000
    ),
    Category(
        "Grocery",
        ("Organic Rice 10kg", "Mandarins 5kg", "Kimchi 3kg", "Mixed Nuts", "Coffee Beans 1kg"),
        4_900,
        129_000,
    ),
    Category(
        "Electronics",
        ("Wireless Earbuds", "Bluetooth Speaker", "Air Purifier", "Robot Vacuum", "27in Monitor"),
        19_900,
        1_490_000,
    ),
    Category(
        "Household", ("Laundry Detergent 3L", "Paper Towels 12 Rolls", "Toothbrush Set", "Storage Box"), 2_900, 49_000
    ),
    Category(
        "Sports", ("Yoga Mat", "Running Shoes", "Camping Chair", "Hiking Backpack", "Dumbbell Set"), 9_900, 390_000
    ),
    Category("Books", ("Essay Collection", "Novel", "Self-Help Book", "Cookbook", "Travel Guide"), 9_000, 35_000),
    Category(
        "Furniture", ("Oak Desk", "Office Chair", "Bed Frame", "Cabinet", "LED Desk Lamp", "Rug"), 19_900, 890_000
    ),
)
ENGLISH_QUALIFIERS = ("Premium", "Classic", "2025 Edition", "Family Size", "Ultralight", "Everyday", "Eco")
ENGLISH_VARIANTS = ("Black", "White", "Navy", "Beige", "Grey", "2-Pack", "Large", "Small", "Standard")


def for_locale(locale: str) -> tuple[tuple[Category, ...], tuple[str, ...], tuple[str, ...]]:
    """Korean words for ``ko_*`` locales, English words for every other locale."""
    if locale.lower().startswith("ko"):
        return KOREAN, KOREAN_QUALIFIERS, KOREAN_VARIANTS
    return ENGLISH, ENGLISH_QUALIFIERS, ENGLISH_VARIANTS
