"""The lottery engine: one engine for wheel (大转盘), blind box (盲盒) and golden egg (砸金蛋)."""
