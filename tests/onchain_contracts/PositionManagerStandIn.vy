# pragma version 0.4.3
# A stand-in for Uniswap v3 NonfungiblePositionManager with the same mint / decreaseLiquidity /
# collect ABI (v3-periphery INonfungiblePositionManager). No pool math: a position keeps the
# tokens deposited and the liquidity it was given (mint: the next one set by the test); a decrease
# owes the tokens pro rata, collect pays what is owed. It checks what the real one checks on the
# batch's path: the owner, the deadline, sorted tokens, ticks in order and on the fee's spacing,
# the minimum amounts, and it pulls the deposit with transferFrom (so approvals must cover it).
from ethereum.ercs import IERC20

struct MintParams:
    token0: address
    token1: address
    fee: uint24
    tickLower: int24
    tickUpper: int24
    amount0Desired: uint256
    amount1Desired: uint256
    amount0Min: uint256
    amount1Min: uint256
    recipient: address
    deadline: uint256

struct DecreaseLiquidityParams:
    tokenId: uint256
    liquidity: uint128
    amount0Min: uint256
    amount1Min: uint256
    deadline: uint256

struct CollectParams:
    tokenId: uint256
    recipient: address
    amount0Max: uint128
    amount1Max: uint128

struct Position:
    owner: address
    token0: address
    token1: address
    fee: uint24
    tickLower: int24
    tickUpper: int24
    liquidity: uint128
    amount0: uint256
    amount1: uint256
    owed0: uint256
    owed1: uint256

positions: public(HashMap[uint256, Position])
last_id: public(uint256)
next_liquidity: uint128

@external
def set_next_liquidity(liquidity: uint128):
    self.next_liquidity = liquidity

@internal
def _open(owner: address, p: MintParams) -> uint256:
    assert block.timestamp <= p.deadline, "Transaction too old"
    assert convert(p.token0, uint256) < convert(p.token1, uint256), "tokens not sorted"
    spacing: int24 = 60
    if p.fee == 500:
        spacing = 10
    elif p.fee == 10000:
        spacing = 200
    elif p.fee == 100:
        spacing = 1
    assert p.tickLower < p.tickUpper, "TLU"
    assert p.tickLower % spacing == 0 and p.tickUpper % spacing == 0, "tick spacing"
    assert p.amount0Desired >= p.amount0Min and p.amount1Desired >= p.amount1Min, "Price slippage check"
    assert extcall IERC20(p.token0).transferFrom(msg.sender, self, p.amount0Desired)
    assert extcall IERC20(p.token1).transferFrom(msg.sender, self, p.amount1Desired)
    self.last_id += 1
    self.positions[self.last_id] = Position(
        owner=owner, token0=p.token0, token1=p.token1, fee=p.fee, tickLower=p.tickLower, tickUpper=p.tickUpper,
        liquidity=self.next_liquidity, amount0=p.amount0Desired, amount1=p.amount1Desired, owed0=0, owed1=0
    )
    return self.last_id

@payable
@external
def mint(params: MintParams) -> (uint256, uint128, uint256, uint256):
    token_id: uint256 = self._open(params.recipient, params)
    return token_id, self.next_liquidity, params.amount0Desired, params.amount1Desired

@payable
@external
def decreaseLiquidity(params: DecreaseLiquidityParams) -> (uint256, uint256):
    assert block.timestamp <= params.deadline, "Transaction too old"
    pos: Position = self.positions[params.tokenId]
    assert pos.owner == msg.sender, "Not approved"
    assert params.liquidity > 0 and params.liquidity <= pos.liquidity, "liquidity"
    a0: uint256 = pos.amount0 * convert(params.liquidity, uint256) // convert(pos.liquidity, uint256)
    a1: uint256 = pos.amount1 * convert(params.liquidity, uint256) // convert(pos.liquidity, uint256)
    assert a0 >= params.amount0Min and a1 >= params.amount1Min, "Price slippage check"
    pos.liquidity -= params.liquidity
    pos.amount0 -= a0
    pos.amount1 -= a1
    pos.owed0 += a0
    pos.owed1 += a1
    self.positions[params.tokenId] = pos
    return a0, a1

@payable
@external
def collect(params: CollectParams) -> (uint256, uint256):
    pos: Position = self.positions[params.tokenId]
    assert pos.owner == msg.sender, "Not approved"
    a0: uint256 = min(pos.owed0, convert(params.amount0Max, uint256))
    a1: uint256 = min(pos.owed1, convert(params.amount1Max, uint256))
    pos.owed0 -= a0
    pos.owed1 -= a1
    self.positions[params.tokenId] = pos
    if a0 > 0:
        assert extcall IERC20(pos.token0).transfer(params.recipient, a0)
    if a1 > 0:
        assert extcall IERC20(pos.token1).transfer(params.recipient, a1)
    return a0, a1
