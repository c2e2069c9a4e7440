"""The long-range tasks of the lecture: where Elman RNNs fail and gated cells succeed.

* :mod:`.adding`: the adding problem (regression, chance MSE 1/6).
* :mod:`.copying`: the copy memory task (chance 1/alphabet).
* :mod:`.digits`: scikit-learn digits read row by row or pixel by pixel (chance 10%).
* :mod:`.sweep`: train every cell at every length and tabulate (``rnnkit longrange``).
"""
