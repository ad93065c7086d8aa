# pragma version 0.4.3
# A stand-in for Uniswap v3 SwapRouter02 with the same exactInputSingle/exactInput ABI: it swaps
# from its own inventory at a rate the test sets, and enforces amountOutMinimum like the router.
from ethereum.ercs import IERC20

struct ExactInputSingleParams:
    tokenIn: address
    tokenOut: address
    fee: uint24
    recipient: address
    amountIn: uint256
    amountOutMinimum: uint256
    sqrtPriceLimitX96: uint160

struct ExactInputParams:
    path: Bytes[1024]
    recipient: address
    amountIn: uint256
    amountOutMinimum: uint256

# amountOut = amountIn * num / den for the pair (tokenIn, tokenOut), in raw units
num: HashMap[address, HashMap[address, uint256]]
den: HashMap[address, HashMap[address, uint256]]

@external
def set_rate(token_in: address, token_out: address, num: uint256, den: uint256):
    self.num[token_in][token_out] = num
    self.den[token_in][token_out] = den

@internal
def _swap(token_in: address, token_out: address, amount_in: uint256, recipient: address, minimum: uint256) -> uint256:
    assert self.den[token_in][token_out] > 0, "no pool"
    out: uint256 = amount_in * self.num[token_in][token_out] // self.den[token_in][token_out]
    assert out >= minimum, "Too little received"
    assert extcall IERC20(token_in).transferFrom(msg.sender, self, amount_in)
    assert extcall IERC20(token_out).transfer(recipient, out)
    return out

@payable
@external
def exactInputSingle(params: ExactInputSingleParams) -> uint256:
    return self._swap(params.tokenIn, params.tokenOut, params.amountIn, params.recipient, params.amountOutMinimum)

@payable
@external
def exactInput(params: ExactInputParams) -> uint256:
    # a single-pool path only: tokenIn (20) + fee (3) + tokenOut (20)
    assert len(params.path) == 43, "one hop only"
    token_in: address = convert(slice(params.path, 0, 20), address)
    token_out: address = convert(slice(params.path, 23, 20), address)
    return self._swap(token_in, token_out, params.amountIn, params.recipient, params.amountOutMinimum)
