"""On-chain treasuries: the token registry, calldata for approvals and swaps, minimum outputs from
oracle prices, and Safe Transaction Builder batches. Pure: nothing here talks to a chain (the
reads live in `ballast.live.web3_source`). The encoders need the ``onchain`` extra
(eth-abi, eth-utils, safe-eth-py), imported lazily."""
