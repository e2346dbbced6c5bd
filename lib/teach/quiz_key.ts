/**
 * The answer key of the course's graded quiz (lib/teach/quiz.ts shows and grades it): eight questions, in
 * the order the course teaches them, each at the end of the notebook that teaches it. Six are
 * multiple choice (choose all that apply), two are the course's closing open questions.
 *
 *   QUESTIONS[3].options[2]   // { letter: "c", text: "It freezes all the weights, …", right: false, why: "…",
 *                             //   cell: { notebook: "04_model", cell: "quiz-4-grads" } }
 *
 * Every option has its explanation and the cell whose experiment shows it (cells named `quiz-…` assert
 * their claim and fail if it is false; test/quiz.test.ts checks every cell named here exists). Where the
 * course's own explanation is loose, `course` quotes it and says what is right, with its experiment.
 * Wording: the course's quiz is not in this repository; questions follow its topics and phrasing, and
 * the quotes in `course.says` are the course's explanations as recorded when the quiz was written.
 */

/** A cell in a course notebook: `{ notebook: "04_model", cell: "quiz-4-grads" }`. */
export interface CellRef {
  notebook: string;
  cell: string;
}

export interface Option {
  letter: string;
  text: string;
  right: boolean;
  /** Why it is right or wrong, and the cell that shows it. */
  why: string;
  cell: CellRef;
}

export interface Question {
  n: number;
  /** The notebook whose "Check your understanding" holds the question. */
  notebook: string;
  /** What it checks, named as the README names the notebook's concepts (used in "revisit" advice). */
  concept: string;
  kind: "choice" | "open";
  text: string;
  /** a, b, c, d for a choice question; none for an open one. */
  options: Option[];
  /** Open questions: a short written answer, and the cells that show it. */
  modelAnswer?: string;
  shownIn: CellRef[];
  /** Where the course's explanation is loose: its words, what is right, and the experiment. */
  course?: { says: string; right: string; cell: CellRef };
  /** The sections that teach the concept: notebook, heading, the heading's cell id. */
  taught: { notebook: string; section: string; cell: string }[];
}

/**
 * A question as the key below writes it: numbered by its place, a choice question by its options (keyed by
 * their letter) and the letters that are right.
 */
type Entry = Omit<Question, "n" | "kind" | "options" | "shownIn"> & {
  right?: string[];
  options?: Record<string, Omit<Option, "letter" | "right">>;
  shownIn?: CellRef[];
};

const at = (notebook: string, cell: string): CellRef => ({ notebook, cell });

const KEY: Entry[] = [
  {
    notebook: "01_eda",
    concept: "exploratory data analysis: multi-label tweets and class imbalance",
    text: "What did the exploratory data analysis of the SMILE tweets tell us?",
    right: ["a", "b"],
    options: {
      a: {
        cell: at("01_eda", "quiz-1-labels"),
        text: "Some tweets have several emotions (like `happy|sad`) or none (`nocode`); we removed them, so " +
          "that every tweet left has exactly one label.",
        why: "Fine-tuning here is single-label: softmax and cross-entropy reward one correct class per tweet, " +
          "which a `happy|sad` tweet does not have. Dropping 32 multi-label and 1,572 `nocode` rows leaves " +
          "1,481 tweets, each with one of six labels.",
      },
      b: {
        cell: at("01_eda", "quiz-1-imbalance"),
        text: "The classes are very imbalanced: most tweets are `happy`, and `disgust` has only 6.",
        why: "`happy` is 77% of the 1,481 tweets. A model that always says `happy` is 77% accurate while " +
          "knowing nothing (its macro F1 is under 0.15): this is why the split is stratified (notebook 02) and " +
          "the model is scored by F1 per class (notebook 06).",
      },
      c: {
        cell: at("01_eda", "quiz-1-lr"),
        text: "It gives us hints as to what learning rate to use.",
        why: "Nothing an EDA counts enters the choice of learning rate: it depends on the model, the optimizer " +
          "and the batch size, and is found by trying, measured on validation data (notebook 05's tuning table " +
          "in `lib/config/config.ts`). On these same tweets the course used 1e-5 for bert-base and bertlab 1e-4 for " +
          "MiniLM. The experiment trains one model on the same tweets with four learning rates: the EDA is the " +
          "same for all four, the outcomes are not.",
      },
      d: {
        cell: at("01_eda", "quiz-1-labels"),
        text: "Every row of the file can be used as it is: one tweet, one emotion.",
        why: "Only 1,481 of the 3,085 rows are: half the file is `nocode`, and 32 rows name several emotions.",
      },
    },
    taught: [
      { notebook: "01_eda", section: "Why multi-label rows are dropped", cell: "multi-md" },
      { notebook: "01_eda", section: "The imbalance", cell: "imbalance-md" },
    ],
  },
  {
    notebook: "02_split",
    concept: "the stratified train/validation split",
    text: "Why did we split the data into training and validation sets with a stratified split " +
      "(`stratify=labels`)?",
    right: ["a", "b"],
    options: {
      a: {
        cell: at("02_split", "quiz-2-stratified"),
        text: "Because the classes are imbalanced: a stratified split keeps each class's share the same in the " +
          "training and the validation set.",
        why: "It splits each class 85/15 on its own: every class is in both sets, within one tweet of its 15% " +
          "share.",
      },
      b: {
        cell: at("02_split", "quiz-2-random"),
        text: "A plain random split can leave a rare class out of the validation set entirely, so the model " +
          "could not be measured on it.",
        why: "With the course's seed 17, a plain random split puts none of the 6 `disgust` tweets in " +
          "validation; over many seeds, about two splits in five lose a class.",
      },
      c: {
        cell: at("02_split", "quiz-2-imbalance"),
        text: "A stratified split balances the classes, so the model sees as many `disgust` tweets as `happy` " +
          "ones.",
        why: "It keeps the imbalance exactly as it is: `happy` is 77% of the training set and of the validation " +
          "set. Balancing would be resampling or class weights, a different tool.",
      },
      d: {
        cell: at("02_split", "quiz-2-imbalance"),
        text: "It makes training faster.",
        why: "Both splits give 1,258 training and 223 validation tweets: the same work. Only which tweets go " +
          "where changes.",
      },
    },
    taught: [
      { notebook: "02_split", section: "A plain random split", cell: "random-md" },
      { notebook: "02_split", section: "The stratified split", cell: "strat-md" },
    ],
  },
  {
    notebook: "03_tokenize",
    concept: "tokenization: padding and the attention mask",
    text: "When we tokenize the tweets, why do we pad them, and what is the attention mask for?",
    right: ["a", "b"],
    options: {
      a: {
        cell: at("03_tokenize", "quiz-3-ragged"),
        text: "The tweets of a batch go into the model as one rectangular tensor, so shorter tweets are filled " +
          "up with `[PAD]`.",
        why: "Tweets of different lengths cannot be stacked into one `[batch, length]` tensor; padded to the " +
          "longest of the batch, they can.",
      },
      b: {
        cell: at("03_tokenize", "quiz-3-mask"),
        text: "The attention mask is 1 for real tokens and 0 for padding, so attention gives the padding no " +
          "weight.",
        why: "In every layer and head, the attention weight on a padded position is exactly 0; without the " +
          "mask, the same padded input gives other logits.",
      },
      c: {
        cell: at("03_tokenize", "quiz-3-longest"),
        text: "All tweets of the data set must be padded to one fixed length, such as 256.",
        why: "Only a batch must be rectangular. A tweet alone, padded to the longest tweet of its batch, or " +
          "padded to 64 gets the same logits (within float rounding); 256 for every tweet only computes 4.3× " +
          "more positions (cell `waste-lib`).",
      },
      d: {
        cell: at("03_tokenize", "quiz-3-mask"),
        text: "The attention mask hides random words, which BERT then learns to predict.",
        why: "That is the `[MASK]` token of masked-language-model pretraining. The attention mask hides only " +
          "padding: its zeros are exactly the `[PAD]` positions.",
      },
    },
    course: {
      says: "BERT needs a fixed-size input, so padding is necessary.",
      right: "A batch needs one length; the data set does not. Padding each batch to its longest tweet gives " +
        "the same logits as padding every tweet to 256, because the mask hides the padding either way.",
      cell: at("03_tokenize", "quiz-3-longest"),
    },
    taught: [
      { notebook: "03_tokenize", section: "Padding and the attention mask", cell: "pad-md" },
      { notebook: "03_tokenize", section: "Pad to 256, or to the longest in the batch?", cell: "waste-md" },
    ],
  },
  {
    notebook: "04_model",
    concept: "train mode versus eval mode",
    text: "What does `model.eval()` do, and why do we call it before evaluating or predicting?",
    right: ["a", "d"],
    options: {
      a: {
        cell: at("04_model", "quiz-4-dropout"),
        text: "It turns dropout off, so that the same input gives the same output every time.",
        why: "In eval mode two forward passes of the same tweets give identical logits; in train mode dropout " +
          "zeroes a random 10% of activations and the logits change from pass to pass.",
      },
      b: {
        cell: at("04_model", "quiz-4-grads"),
        text: "It stops gradients from being computed.",
        why: "Gradients of an eval-mode forward pass are computed as usual, non-zero for every weight. Not " +
          "tracking them is a separate switch: `torch.no_grad()` in PyTorch; in TensorFlow.js, not calling " +
          "`tf.variableGrads`.",
      },
      c: {
        cell: at("04_model", "quiz-4-grads"),
        text: "It freezes all the weights, so that an optimizer step cannot change them.",
        why: "An optimizer step after an eval-mode pass moves the weights all the same. Freezing a weight is " +
          "another switch: `requires_grad = False` in PyTorch, `trainable: false` in TensorFlow.js.",
      },
      d: {
        cell: at("04_model", "quiz-4-dropout"),
        text: "Before training goes on, `model.train()` must switch dropout back on.",
        why: "A train-mode pass drops activations, an eval-mode pass does not: the two give different logits " +
          "for the same tweets, so the mode must match the job.",
      },
    },
    course: {
      says: "`model.eval()` … sets us up for backpropagation to not occur and freezes all weights.",
      right: "Eval mode changes only layers that behave differently in training: dropout (and batch norm, which " +
        "BERT does not have). Gradients still flow, and an optimizer step still changes the weights. Not " +
        "tracking gradients is `torch.no_grad()`; freezing is `requires_grad = False`.",
      cell: at("04_model", "quiz-4-grads"),
    },
    taught: [
      { notebook: "04_model", section: "Training mode versus evaluation mode", cell: "md-dropout" },
      { notebook: "05_train", section: "3 · Train mode and eval mode", cell: "0ce74280" },
    ],
  },
  {
    notebook: "05_train",
    concept: "random and sequential sampling, and seeds",
    text: "Why does the training `DataLoader` use a `RandomSampler` and the validation one a " +
      "`SequentialSampler`, and why do we set the seed?",
    right: ["a", "b", "c"],
    options: {
      a: {
        cell: at("05_train", "quiz-5-random"),
        text: "Training sees the tweets in a new random order every epoch, so the batches differ from one epoch " +
          "to the next.",
        why: "Each epoch's order is a fresh shuffle of all the training tweets: the model cannot learn anything " +
          "from the order, and each step's gradient comes from a different mix of tweets.",
      },
      b: {
        cell: at("05_train", "quiz-5-sequential"),
        text: "For validation the order does not matter: the loss and F1 come out the same in any order, so the " +
          "tweets are read in sequence.",
        why: "Evaluating the same tweets in sequence and in a shuffled order gives the same predictions and the " +
          "same F1 (and the loss within float rounding).",
      },
      c: {
        cell: at("05_train", "quiz-5-seed"),
        text: "Setting the seed makes a run repeatable: the same seed gives the same run, another seed a " +
          "different one.",
        why: "The seed draws the new head's weights, the sampler's orders and the dropout masks: two training " +
          "runs with seed 17 give identical losses, a run with seed 18 does not (same machine and backend).",
      },
      d: {
        cell: at("05_train", "quiz-5-random"),
        text: "With a fixed seed, the random sampler gives the same order in every epoch.",
        why: "The seed fixes the sequence of orders, not one order: epoch 2 differs from epoch 1, and a new " +
          "sampler with the same seed repeats both.",
      },
    },
    taught: [
      { notebook: "05_train", section: "1 · Data loaders and samplers", cell: "bd5fcf18" },
      { notebook: "05_train", section: "2 · Seeds", cell: "c3fb9130" },
    ],
  },
  {
    notebook: "05_train",
    concept: "zeroing gradients",
    text: "Why do we call `model.zero_grad()` before the backward pass of every batch?",
    right: ["a", "c"],
    options: {
      a: {
        cell: at("05_train", "quiz-6-accumulate"),
        text: "PyTorch adds each new gradient to the one already stored, so without zeroing a step would use " +
          "this batch's gradient plus all the earlier ones.",
        why: "Without zeroing, after two batches the stored gradient is the sum of both batches' gradients: " +
          "exactly the gradient of the two losses added, so the second step would still push with the first " +
          "batch's gradient.",
      },
      b: {
        cell: at("05_train", "quiz-6-accumulate"),
        text: "It sets the model's weights to zero before each batch.",
        why: "It zeroes the stored gradients, never the weights: working out gradients leaves every weight as " +
          "it was, and only the optimizer's step changes them.",
      },
      c: {
        cell: at("05_train", "quiz-6-large-batch"),
        text: "Accumulating gradients on purpose over k batches, then stepping once, works like one batch k " +
          "times larger.",
        why: "The mean of two 16-tweet batches' gradients equals the gradient of one 32-tweet batch: a large " +
          "effective batch in the memory of a small one (`gradAccumulation` in `TrainConfig`).",
      },
      d: {
        cell: at("05_train", "quiz-6-large-batch"),
        text: "Gradient accumulation is only useful for recurrent networks (RNNs).",
        why: "It is a general technique with no special tie to RNNs: the experiment accumulates with BERT.",
      },
    },
    course: {
      says: "`zero_grad` … we don't want gradient accumulation, which is usually useful for RNNs.",
      right: "We zero because PyTorch sums gradients across backward passes and each step should use one " +
        "batch's gradient. Accumulation is a general technique (a large effective batch in little memory), not " +
        "an RNN one.",
      cell: at("05_train", "quiz-6-large-batch"),
    },
    taught: [{ notebook: "05_train", section: "4 · Zeroing gradients", cell: "463841e6" }],
  },
  {
    notebook: "06_evaluate",
    concept: "other tasks BERT can learn",
    text: "Besides classifying the emotion of a tweet, what other tasks can BERT learn?",
    modelAnswer: "The same pretrained encoder learns other tasks with a different small head. Sentence-pair " +
      "tasks (paraphrase, entailment, question–answer matching): both sentences go in as one sequence, told " +
      "apart by `token_type_ids`, and the `[CLS]` vector is classified. Token classification (named entities, " +
      "parts of speech): a label for every token from its own output vector. Extractive question answering: a " +
      "start and an end score for every token of a passage. Sentence embeddings for search and clustering (what " +
      "all-MiniLM-L6-v2 was trained for), and filling in masked words, its pretraining task.",
    shownIn: [at("06_evaluate", "f8a11800"), at("06_evaluate", "quiz-7-heads")],
    taught: [{ notebook: "06_evaluate", section: "What other tasks can BERT learn?", cell: "47a3dd7f" }],
  },
  {
    notebook: "06_evaluate",
    concept: "why BERT is slow in production",
    text: "Why can BERT be slow in production, and what helps?",
    modelAnswer: "Every token attends to every other token in every layer: the work grows with the number of " +
      "layers and the hidden size, and attention with the square of the length (bert-base: 12 layers of width " +
      "768, 110 million weights). Padding every text to a fixed length computes on padding. Each call has a " +
      "fixed cost, and a model run operation by operation pays it hundreds of times per call; one request at a " +
      "time pays it for every request (and leaves a GPU mostly idle). What helps: batching requests, padding " +
      "each batch to its longest text, truncating to what the task needs, smaller or distilled models (MiniLM: " +
      "6 layers of width 384), quantisation, and an engine that runs the whole network as one graph (ONNX " +
      "Runtime, TorchScript, bertlab's graph on native TensorFlow).",
    shownIn: [at("06_evaluate", "b346a0e4"), at("06_evaluate", "quiz-8-cost")],
    taught: [{ notebook: "06_evaluate", section: "Why is BERT slow in production, and what helps?", cell: "135ac54d" }],
  },
];

export const QUESTIONS: Question[] = KEY.map(({ right = [], ...q }, i) => ({
  ...q,
  n: i + 1,
  kind: q.options ? "choice" : "open",
  options: Object.entries(q.options ?? {}).map(([letter, o]) => ({ letter, right: right.includes(letter), ...o })),
  shownIn: q.shownIn ?? [],
}));
