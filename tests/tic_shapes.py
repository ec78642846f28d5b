"""Pieces of an in-network file for tests that build hostile TiC files at small scale: the
opening of the file, one item for a code of interest (0440T) and one for a code of no interest."""

MB = 1024 * 1024
PREFIX = b'{"reporting_entity_name": "x", "version": "1.0.0", "in_network": ['
TARGET = (
    b'{"negotiation_arrangement": "ffs", "name": "t", "billing_code_type": "CPT", "billing_code_type_version": "2022", '
    b'"billing_code": "0440T", "description": "x", "negotiated_rates": [{"provider_groups": [{"npi": [1234567893], '
    b'"tin": {"type": "ein", "value": "111111111"}}], "negotiated_prices": [{"negotiated_type": "negotiated", '
    b'"negotiated_rate": 596.75, "expiration_date": "9999-12-31", "billing_class": "professional"}]}]}'
)
OTHER = TARGET.replace(b'"0440T"', b'"99213"')
