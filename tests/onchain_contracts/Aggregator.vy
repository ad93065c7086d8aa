# pragma version 0.4.3
# A Chainlink-style aggregator whose answer and updatedAt the test sets.
decimals: public(uint8)
answer: int256
updated: uint256
round: uint80

@deploy
def __init__(_decimals: uint8):
    self.decimals = _decimals

@external
def set(answer: int256, updated_at: uint256):
    self.answer = answer
    self.updated = updated_at
    self.round += 1

@view
@external
def latestRoundData() -> (uint80, int256, uint256, uint256, uint80):
    return self.round, self.answer, self.updated, self.updated, self.round
