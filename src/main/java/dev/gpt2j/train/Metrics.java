package dev.gpt2j.train;

import dev.gpt2j.util.AtomicFiles;
import java.awt.Color;
import java.awt.Graphics2D;
import java.awt.image.BufferedImage;
import java.io.ByteArrayOutputStream;
import java.io.IOException;
import java.io.UncheckedIOException;
import java.nio.charset.StandardCharsets;
import java.nio.file.Files;
import java.nio.file.Path;
import java.util.ArrayList;
import java.util.List;
import java.util.Locale;
import java.util.function.ToDoubleFunction;
import javax.imageio.ImageIO;
import org.knowm.xchart.BitmapEncoder;
import org.knowm.xchart.XYChart;
import org.knowm.xchart.XYChartBuilder;
import org.knowm.xchart.XYSeries;
import org.knowm.xchart.style.Styler;
import org.knowm.xchart.style.markers.SeriesMarkers;

/**
 * metrics.csv ({@code iter,train_loss,val_loss,lr,tokens_per_s,aux_loss,task_metric}: aux_loss is a
 * mixture of experts' load-balancing loss, task_metric the eval_task's headline figure) and
 * loss.png of a run.
 */
public final class Metrics {
  public static final String CSV = "metrics.csv";
  public static final String PLOT = "loss.png";
  static final String HEADER = "iter,train_loss,val_loss,lr,tokens_per_s,aux_loss,task_metric";

  /** One row; NaN where a column was not measured at that step. */
  public record Row(
      int iter,
      double trainLoss,
      double valLoss,
      double lr,
      double tokensPerS,
      double auxLoss,
      double taskMetric) {
    /** A row of losses, without a task's figure. */
    public Row(
        int iter, double trainLoss, double valLoss, double lr, double tokensPerS, double auxLoss) {
      this(iter, trainLoss, valLoss, lr, tokensPerS, auxLoss, Double.NaN);
    }

    /** A row without a load-balancing loss or a task's figure. */
    public Row(int iter, double trainLoss, double valLoss, double lr, double tokensPerS) {
      this(iter, trainLoss, valLoss, lr, tokensPerS, Double.NaN);
    }

    /** The eval_task's figure at {@code iter}. */
    static Row task(int iter, double lr, double value) {
      return new Row(iter, Double.NaN, Double.NaN, lr, Double.NaN, Double.NaN, value);
    }

    String csv() {
      return iter
          + ","
          + num(trainLoss)
          + ","
          + num(valLoss)
          + ","
          + num(lr)
          + ","
          + num(tokensPerS)
          + ","
          + num(auxLoss)
          + ","
          + num(taskMetric);
    }

    // a float32's precision: runs that should agree can be compared from this file
    private static String num(double v) {
      return Double.isNaN(v) ? "" : String.format(Locale.ROOT, "%.7g", v);
    }
  }

  private final Path dir;
  private final List<Row> rows = new ArrayList<>();

  /** Starts empty, or (resuming) from the rows of an earlier run up to {@code upTo}. */
  public Metrics(Path dir, int upTo) {
    this.dir = dir;
    Path csv = dir.resolve(CSV);
    if (upTo > 0 && Files.isRegularFile(csv)) {
      try {
        for (String line : Files.readAllLines(csv, StandardCharsets.UTF_8)) {
          if (!line.isBlank() && !line.startsWith("iter,")) { // this header or an older one
            Row row = parse(line);
            if (row.iter() <= upTo) {
              rows.add(row);
            }
          }
        }
      } catch (IOException e) {
        throw new UncheckedIOException(csv + ": cannot read: " + e.getMessage(), e);
      }
    }
  }

  private static Row parse(String line) {
    String[] f = line.split(",", -1);
    // a run written before aux_loss or task_metric existed has fewer columns
    double aux = f.length > 5 ? d(f[5]) : Double.NaN;
    double task = f.length > 6 ? d(f[6]) : Double.NaN;
    return new Row(Integer.parseInt(f[0]), d(f[1]), d(f[2]), d(f[3]), d(f[4]), aux, task);
  }

  private static double d(String s) {
    return s.isEmpty() ? Double.NaN : Double.parseDouble(s);
  }

  public void add(Row row) {
    rows.add(row);
    StringBuilder sb = new StringBuilder(HEADER).append('\n');
    rows.forEach(r -> sb.append(r.csv()).append('\n'));
    AtomicFiles.writeString(dir.resolve(CSV), sb.toString());
  }

  /**
   * Redraws loss.png: the loss of each logged step as a light line, and the evaluations' averaged
   * train and val losses as bold lines with markers (two estimates, kept apart from the noisy one);
   * when the run has an eval_task ({@code taskLabel}, null for none), the task's figure on an axis
   * of its own at the right, over the same iterations.
   */
  public void plot(String title, String taskLabel) {
    try {
      BufferedImage image = BitmapEncoder.getBufferedImage(chart(title, taskLabel));
      ByteArrayOutputStream png = new ByteArrayOutputStream();
      ImageIO.write(image, "png", png);
      AtomicFiles.write(dir.resolve(PLOT), png.toByteArray());
    } catch (IOException e) {
      throw new UncheckedIOException(dir.resolve(PLOT) + ": cannot draw: " + e.getMessage(), e);
    }
  }

  private static final int WIDTH = 900;
  private static final int TITLE_MARGIN = 40;

  // the legend under the plot, so that the plot and its title span the picture's whole width
  private static XYChart emptyChart(String title, int width) {
    XYChart chart =
        new XYChartBuilder()
            .width(width)
            .height(500)
            .title(title)
            .xAxisTitle("iteration")
            .yAxisTitle("cross-entropy loss")
            .build();
    chart.getStyler().setLegendPosition(Styler.LegendPosition.OutsideS);
    chart.getStyler().setLegendLayout(Styler.LegendLayout.Horizontal);
    return chart;
  }

  // the chart title's width in pixels, in the font it is drawn in
  private static int titleWidth(XYChart chart) {
    Graphics2D g = new BufferedImage(1, 1, BufferedImage.TYPE_INT_RGB).createGraphics();
    try {
      return g.getFontMetrics(chart.getStyler().getChartTitleFont()).stringWidth(chart.getTitle());
    } finally {
      g.dispose();
    }
  }

  // the task's figure shares the losses' x-axis: one chart, a second y-axis
  private static final int TASK_AXIS = 1;

  XYChart chart(String title, String taskLabel) {
    XYChart chart = emptyChart(title, WIDTH);
    int needed = titleWidth(chart) + TITLE_MARGIN;
    if (needed > WIDTH) { // as wide as the title: it is never cut
      chart = emptyChart(title, needed);
    }
    List<Row> steps =
        rows.stream()
            .filter(r -> Double.isNaN(r.valLoss()) && !Double.isNaN(r.trainLoss()))
            .toList();
    List<Row> evals = rows.stream().filter(r -> !Double.isNaN(r.valLoss())).toList();
    series(
        chart,
        "train (each logged step)",
        steps,
        Row::trainLoss,
        new Color(90, 120, 200, 200),
        1.5f,
        steps.size() < 2); // a single point is drawn as a marker, a line needs two
    series(chart, "train (evaluated)", evals, Row::trainLoss, new Color(30, 70, 170), 2.5f, true);
    series(chart, "val (evaluated)", evals, Row::valLoss, new Color(220, 110, 20), 2.5f, true);
    List<Row> tasks = rows.stream().filter(r -> !Double.isNaN(r.taskMetric())).toList();
    if (taskLabel != null && !tasks.isEmpty()) {
      String name = taskLabel + " (right axis)";
      series(chart, name, tasks, Row::taskMetric, new Color(40, 150, 70), 2.5f, true);
      chart.getSeriesMap().get(name).setYAxisGroup(TASK_AXIS);
      chart.setYAxisGroupTitle(TASK_AXIS, taskLabel);
      chart.getStyler().setYAxisGroupPosition(TASK_AXIS, Styler.YAxisPosition.Right);
      // a figure that has not moved gets one tick: 0.286, not 0.285714285714286
      chart.getStyler().putYAxisGroupDecimalPatternMap(TASK_AXIS, "0.###");
    }
    return chart;
  }

  private static void series(
      XYChart chart,
      String name,
      List<Row> rows,
      ToDoubleFunction<Row> loss,
      Color color,
      float width,
      boolean markers) {
    if (rows.isEmpty()) {
      return;
    }
    XYSeries s =
        chart.addSeries(
            name,
            rows.stream().mapToDouble(Row::iter).toArray(),
            rows.stream().mapToDouble(loss).toArray());
    s.setLineColor(color);
    s.setLineWidth(width);
    s.setMarker(markers ? SeriesMarkers.CIRCLE : SeriesMarkers.NONE);
    s.setMarkerColor(color);
  }
}
