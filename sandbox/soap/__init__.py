"""SOAP stand-ins: ECK-iD (Kennisnet), DUO ROD, DUO verzuimregister, DUO RIO and SBB."""
