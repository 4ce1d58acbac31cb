"""A tile-grid 'map' of Japan: one square per prefecture at (row, column), north-east at the top right."""

TILES: dict[str, tuple[int, int]] = {
    "01": (0, 12),
    "02": (1, 12),
    "05": (2, 11),
    "03": (2, 12),
    "17": (3, 8),
    "16": (3, 9),
    "15": (3, 10),
    "06": (3, 11),
    "04": (3, 12),
    "32": (4, 3),
    "31": (4, 4),
    "28": (4, 5),
    "26": (4, 6),
    "18": (4, 7),
    "21": (4, 8),
    "20": (4, 9),
    "10": (4, 10),
    "09": (4, 11),
    "07": (4, 12),
    "35": (5, 2),
    "34": (5, 3),
    "33": (5, 4),
    "27": (5, 5),
    "25": (5, 6),
    "24": (5, 7),
    "23": (5, 8),
    "19": (5, 9),
    "11": (5, 10),
    "08": (5, 11),
    "42": (6, 0),
    "41": (6, 1),
    "40": (6, 2),
    "38": (6, 3),
    "37": (6, 4),
    "30": (6, 5),
    "29": (6, 6),
    "22": (6, 8),
    "14": (6, 9),
    "13": (6, 10),
    "12": (6, 11),
    "43": (7, 1),
    "44": (7, 2),
    "39": (7, 3),
    "36": (7, 4),
    "46": (8, 1),
    "45": (8, 2),
    "47": (9, 0),
}
N_ROWS = 1 + max(r for r, _ in TILES.values())
N_COLS = 1 + max(c for _, c in TILES.values())


def short_name(prefecture_name: str) -> str:
    """東京都 → 東京, 北海道 stays, 神奈川県 → 神奈川 (tiles are small)."""
    if prefecture_name == "北海道":
        return prefecture_name
    return prefecture_name[:-1] if prefecture_name[-1] in "都府県" else prefecture_name
