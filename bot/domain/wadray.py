"""Integer fixed-point helpers that mirror Aave v3's WadRayMath and PercentageMath.

Every function takes and returns ints. Rounding follows the Solidity libraries exactly:
the plain variants round half up, the ``_floor``/``_ceil`` variants are the v3.5+ additions.
"""

from __future__ import annotations

WAD = 10**18
RAY = 10**27
HALF_WAD = WAD // 2
HALF_RAY = RAY // 2
PERCENTAGE_FACTOR = 10**4
HALF_PERCENTAGE_FACTOR = PERCENTAGE_FACTOR // 2
MAX_UINT256 = 2**256 - 1


def wad_mul(a: int, b: int) -> int:
    return (a * b + HALF_WAD) // WAD


def wad_div(a: int, b: int) -> int:
    return (a * WAD + b // 2) // b


def ray_mul(a: int, b: int) -> int:
    return (a * b + HALF_RAY) // RAY


def ray_div(a: int, b: int) -> int:
    return (a * RAY + b // 2) // b


def ray_mul_floor(a: int, b: int) -> int:
    return (a * b) // RAY


def ray_mul_ceil(a: int, b: int) -> int:
    return -((-a * b) // RAY)


def ray_div_ceil(a: int, b: int) -> int:
    return -((-a * RAY) // b)


def percent_mul(value: int, percentage: int) -> int:
    return (value * percentage + HALF_PERCENTAGE_FACTOR) // PERCENTAGE_FACTOR


def percent_mul_floor(value: int, percentage: int) -> int:
    return (value * percentage) // PERCENTAGE_FACTOR


def percent_mul_ceil(value: int, percentage: int) -> int:
    return -((-value * percentage) // PERCENTAGE_FACTOR)


def percent_div(value: int, percentage: int) -> int:
    return (value * PERCENTAGE_FACTOR + percentage // 2) // percentage


def percent_div_floor(value: int, percentage: int) -> int:
    return (value * PERCENTAGE_FACTOR) // percentage


def percent_div_ceil(value: int, percentage: int) -> int:
    return -((-value * PERCENTAGE_FACTOR) // percentage)


def mul_div_floor(a: int, b: int, c: int) -> int:
    return (a * b) // c


def mul_div_ceil(a: int, b: int, c: int) -> int:
    return -((-a * b) // c)
