"""rules/intercompany: charges between entities at cost plus markup (docs/decisions/0010).

`work` chooses the time one entity charges another for, `policy` names the charges and their tax
codes, `charges` prices them into both ledgers' documents and checks that the two sides agree.
"""
