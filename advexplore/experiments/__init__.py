"""The code behind the notebooks, one module per notebook (or notebook group), named after it:

| notebook                              | experiments / plots / widgets module   |
|---------------------------------------|----------------------------------------|
| 01_linear_adversarial_risk            | linear_adversarial_risk                |
| 02–05 (smoothing, convergence, F3, LASSO) | linear_training                    |
| 06_adversarial_vs_regularized         | adversarial_vs_regularized             |
| 07_two_layer_lazy                     | two_layer_lazy                         |
| 08_width_and_robust_training          | width_and_robust_training              |
| 09_lasso_mnist                        | lasso_mnist                            |
| 10_confidence_and_margins             | confidence_and_margins                 |
| gpu/*                                 | gpu                                    |

`advexplore.plots.<name>` draws what `advexplore.experiments.<name>` computes, and
`advexplore.widgets.<name>` wires sliders to both. Layers import downward only: the core
(advexplore.*, data, models, gpu) <- experiments <- plots <- widgets <- app.
"""
