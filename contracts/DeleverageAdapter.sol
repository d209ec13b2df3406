// SPDX-License-Identifier: MIT
pragma solidity 0.8.28;

// The few functions of ERC-20, Aave v3 and Uniswap v3 this contract calls, declared here so that
// the source compiles on its own (solc-js, offline, no import resolution).

interface IERC20 {
    function balanceOf(address account) external view returns (uint256);
    function allowance(address owner, address spender) external view returns (uint256);
}

struct ReserveData {
    uint256 configuration;
    uint128 liquidityIndex;
    uint128 currentLiquidityRate;
    uint128 variableBorrowIndex;
    uint128 currentVariableBorrowRate;
    uint128 currentStableBorrowRate;
    uint40 lastUpdateTimestamp;
    uint16 id;
    address aTokenAddress;
    address stableDebtTokenAddress;
    address variableDebtTokenAddress;
    address interestRateStrategyAddress;
    uint128 accruedToTreasury;
    uint128 unbacked;
    uint128 isolationModeTotalDebt;
}

interface IPool {
    function flashLoanSimple(address receiver, address asset, uint256 amount, bytes calldata params, uint16 referral)
        external;
    function repay(address asset, uint256 amount, uint256 interestRateMode, address onBehalfOf)
        external
        returns (uint256);
    function withdraw(address asset, uint256 amount, address to) external returns (uint256);
    function supply(address asset, uint256 amount, address onBehalfOf, uint16 referral) external;
    function getReserveData(address asset) external view returns (ReserveData memory);
    function getUserAccountData(address user)
        external
        view
        returns (uint256, uint256, uint256, uint256, uint256, uint256 healthFactor);
}

struct ExactOutputSingleParams {
    address tokenIn;
    address tokenOut;
    uint24 fee;
    address recipient;
    uint256 deadline;
    uint256 amountOut;
    uint256 amountInMaximum;
    uint160 sqrtPriceLimitX96;
}

interface ISwapRouter {
    function exactOutputSingle(ExactOutputSingleParams calldata params) external payable returns (uint256 amountIn);
}

/// @title One-transaction deleverage of the owner's Aave v3 position through Uniswap v3.
/// @notice Flash-borrows the debt asset, repays the owner's variable debt with it, pulls the
/// owner's aTokens (approved to this contract beforehand), withdraws the collateral, buys back
/// exactly what the flash loan costs on one Uniswap v3 pool spending at most `maxCollateralIn`
/// (the slippage cap), repays the flash loan plus premium and supplies the unsold collateral back
/// for the owner. HF only rises: the debt is repaid before any collateral leaves the position.
/// Nothing stays here after a call: no balance and no open approval.
contract DeleverageAdapter {
    address public immutable owner;
    IPool public immutable pool;
    ISwapRouter public immutable router;

    uint256 private constant VARIABLE_RATE = 2;

    // What the callback measured, read back by `deleverage` in the same transaction.
    uint256 private transient repaidInCall;
    uint256 private transient soldInCall;

    error NotOwner();
    error NotPool();
    error NotInitiator();
    error UnexpectedLoan();
    error HealthFactorTooLow(uint256 healthFactor, uint256 minimum);
    error TokenCallFailed(address token);
    /// The swap reverted: above all, the pool's price moved past the cap (the router then cannot
    /// pull more than `maxCollateralIn`: "STF", or "Too much requested"); the router's reason inside.
    error SwapFailed(bytes reason);

    event Deleveraged(
        address indexed collateral, address indexed debt, uint256 repaid, uint256 collateralSold, uint256 healthFactor
    );

    struct Order {
        address collateral;
        uint256 maxCollateralIn;
        uint24 poolFee;
    }

    constructor(IPool pool_, ISwapRouter router_) {
        owner = msg.sender;
        pool = pool_;
        router = router_;
    }

    /// @notice Repay up to `repayAmount` of the owner's `debt` by selling at most
    /// `maxCollateralIn` of `collateral` on the Uniswap v3 pool of fee tier `poolFee`; revert
    /// unless the owner's health factor ends at or above `minHealthFactor` (wad).
    function deleverage(
        address collateral,
        address debt,
        uint256 repayAmount,
        uint256 maxCollateralIn,
        uint24 poolFee,
        uint256 minHealthFactor
    ) external returns (uint256 repaid, uint256 collateralSold, uint256 healthFactor) {
        if (msg.sender != owner) revert NotOwner();
        pool.flashLoanSimple(
            address(this), debt, repayAmount, abi.encode(Order(collateral, maxCollateralIn, poolFee)), 0
        );
        (,,,,, healthFactor) = pool.getUserAccountData(owner);
        if (healthFactor < minHealthFactor) revert HealthFactorTooLow(healthFactor, minHealthFactor);
        repaid = repaidInCall;
        collateralSold = soldInCall;
        emit Deleveraged(collateral, debt, repaid, collateralSold, healthFactor);
    }

    /// @notice Aave's flash-loan callback: only the Pool, only for a loan this contract took.
    function executeOperation(address asset, uint256 amount, uint256 premium, address initiator, bytes calldata params)
        external
        returns (bool)
    {
        if (msg.sender != address(pool)) revert NotPool();
        if (initiator != address(this)) revert NotInitiator();
        Order memory order = abi.decode(params, (Order));
        if (IERC20(asset).balanceOf(address(this)) != amount) revert UnexpectedLoan();

        _approve(asset, address(pool), amount);
        uint256 repaid = pool.repay(asset, amount, VARIABLE_RATE, owner);
        _approve(asset, address(pool), 0); // repay takes less than approved when the debt is smaller

        address aToken = pool.getReserveData(order.collateral).aTokenAddress;
        _call(aToken, abi.encodeWithSelector(0x23b872dd, owner, address(this), order.maxCollateralIn)); // transferFrom
        uint256 withdrawn = pool.withdraw(order.collateral, type(uint256).max, address(this));

        // What is still held of the loan (amount - repaid) plus the swap pays back amount + premium.
        _approve(order.collateral, address(router), withdrawn);
        uint256 sold = _buyBack(
            ExactOutputSingleParams({
                tokenIn: order.collateral,
                tokenOut: asset,
                fee: order.poolFee,
                recipient: address(this),
                deadline: block.timestamp,
                amountOut: repaid + premium,
                amountInMaximum: withdrawn,
                sqrtPriceLimitX96: 0
            })
        );
        _approve(order.collateral, address(router), 0);

        uint256 unsold = withdrawn - sold;
        if (unsold > 0) {
            _approve(order.collateral, address(pool), unsold); // supply pulls all of it
            pool.supply(order.collateral, unsold, owner, 0);
        }
        _approve(asset, address(pool), amount + premium); // the Pool pulls it when this returns
        repaidInCall = repaid;
        soldInCall = sold;
        return true;
    }

    function _buyBack(ExactOutputSingleParams memory params) private returns (uint256 sold) {
        try router.exactOutputSingle(params) returns (uint256 amountIn) {
            sold = amountIn;
        } catch (bytes memory reason) {
            revert SwapFailed(reason);
        }
    }

    function _approve(address token, address spender, uint256 amount) private {
        _call(token, abi.encodeWithSelector(0x095ea7b3, spender, amount)); // approve
    }

    // Tokens that return nothing (USDT on Ethereum) and tokens that return true both pass.
    function _call(address token, bytes memory data) private {
        (bool ok, bytes memory result) = token.call(data);
        if (!ok || (result.length != 0 && !abi.decode(result, (bool))) || token.code.length == 0) {
            revert TokenCallFailed(token);
        }
    }
}
