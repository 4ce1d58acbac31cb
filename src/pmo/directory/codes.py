"""The 全国地方公共団体コード: its check digit and the reasons a code can be malformed; prefecture numbers."""

PREFECTURE_NUMBER_PATTERN = r"^(0[1-9]|[1-3][0-9]|4[0-7])$"  # 01–47, the first two digits of a body code


def check_digit(first_five: str) -> int:
    """The sixth digit of a body code (JIS X 0402) computed from its first five."""
    r = sum(w * int(d) for w, d in zip((6, 5, 4, 3, 2), first_five, strict=True)) % 11
    return (11 - r) % 10


def code_problem(code: str) -> str | None:
    """Why code is not a well-formed body code, in words a person can act on; None if it is."""
    if len(code) != 6:
        return f"団体コードは6桁です（{len(code)}桁が指定されました）。"
    if not code.isascii() or not code.isdigit():
        return "団体コードは半角数字6桁で指定してください。"
    expected = check_digit(code[:5])
    if int(code[5]) != expected:
        return f"団体コードの検査数字が正しくありません（{code[:5]} の検査数字は {expected} です）。"
    return None


def prefecture_body_code(prefecture_code: str) -> str:
    """The body code of a prefecture from its two digits, e.g. '13' → '130001'."""
    head = f"{prefecture_code}000"
    return head + str(check_digit(head))
