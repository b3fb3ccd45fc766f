"""Chinese personal-information recognizers for Presidio (supported language ``"zh"``).

One small :class:`~presidio_analyzer.PatternRecognizer` subclass per identifier, each with
``PATTERNS``, ``CONTEXT``, ``validate_result`` and a docstring citing its standard, in the style of
Presidio's country-specific recognizers (``KrRrnRecognizer``):

==================== ============================== ==============================================
entity               class                          source
==================== ============================== ==============================================
CN_RIC               :class:`CnRicRecognizer`       GB 11643-1999 (ISO 7064 MOD 11-2)
PHONE_NUMBER         :class:`CnPhoneRecognizer`     MIIT numbering plan, E.164
CN_BANK_CARD         :class:`CnBankCardRecognizer`  ISO/IEC 7812-1 (Luhn)
CN_USCC              :class:`CnUsccRecognizer`      GB 32100-2015
CN_PASSPORT          :class:`CnPassportRecognizer`  PRC passport law, ICAO 9303
CN_HMT_PERMIT        :class:`CnHmtPermitRecognizer` HK/Macau/Taiwan permit rules
CN_LICENSE_PLATE     :class:`CnLicensePlateRecognizer` GA 36-2018
CN_DISABILITY_CERT   :class:`CnDisabilityCertRecognizer` 第二代残疾人证, GB/T 26341-2010
CN_STUDENT_NUMBER    :class:`CnStudentNumberRecognizer` 教育部 学籍管理办法
EMAIL_ADDRESS        :class:`ChineseEmailRecognizer` RFC 5322 (Presidio EmailRecognizer)
CN_ADDRESS           :class:`CnAddressRecognizer`   GB/T 23705-2009
PERSON               :class:`CnPersonRecognizer`    surname lexicon + jieba + context + CRF (MSRA)
==================== ============================== ==============================================
"""

from __future__ import annotations

from privacy.recognizers.address import CnAddressRecognizer
from privacy.recognizers.bank_card import CnBankCardRecognizer
from privacy.recognizers.disability_cert import CnDisabilityCertRecognizer
from privacy.recognizers.email import ChineseEmailRecognizer
from privacy.recognizers.license_plate import CnLicensePlateRecognizer
from privacy.recognizers.person import CnPersonRecognizer
from privacy.recognizers.phone import CnPhoneRecognizer
from privacy.recognizers.ric import CnRicRecognizer
from privacy.recognizers.student_number import CnStudentNumberRecognizer
from privacy.recognizers.travel_documents import CnHmtPermitRecognizer, CnPassportRecognizer
from privacy.recognizers.uscc import CnUsccRecognizer, is_valid_uscc, uscc_check_char

RECOGNIZER_CLASSES = (
    CnRicRecognizer,
    CnPhoneRecognizer,
    CnBankCardRecognizer,
    CnUsccRecognizer,
    CnPassportRecognizer,
    CnHmtPermitRecognizer,
    CnLicensePlateRecognizer,
    CnDisabilityCertRecognizer,
    CnStudentNumberRecognizer,
    ChineseEmailRecognizer,
    CnAddressRecognizer,
    CnPersonRecognizer,
)

#: Every entity the Chinese recognizers produce.
ENTITIES = (
    "CN_RIC", "PHONE_NUMBER", "CN_BANK_CARD", "CN_USCC", "CN_PASSPORT", "CN_HMT_PERMIT",
    "CN_LICENSE_PLATE", "CN_DISABILITY_CERT", "CN_STUDENT_NUMBER", "EMAIL_ADDRESS", "CN_ADDRESS", "PERSON",
)


def chinese_recognizers() -> list:
    """One fresh instance of every Chinese recognizer (supported language "zh")."""
    return [cls() for cls in RECOGNIZER_CLASSES]


__all__ = [
    "ENTITIES",
    "RECOGNIZER_CLASSES",
    "ChineseEmailRecognizer",
    "CnAddressRecognizer",
    "CnBankCardRecognizer",
    "CnDisabilityCertRecognizer",
    "CnHmtPermitRecognizer",
    "CnLicensePlateRecognizer",
    "CnPassportRecognizer",
    "CnPersonRecognizer",
    "CnPhoneRecognizer",
    "CnRicRecognizer",
    "CnStudentNumberRecognizer",
    "CnUsccRecognizer",
    "chinese_recognizers",
    "is_valid_uscc",
    "uscc_check_char",
]
