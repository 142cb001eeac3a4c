"""Adherence roll-ups: doses taken ÷ doses due and days covered, per patient and prescription,
kept incrementally (changed days only), read with a trend; the doctor's risk dashboard; and
the alerts that low adherence and missed-dose streaks raise."""
