// Turn the single-page HTML build of the book into a printable book, in place.
//
// Called by booktools.publish.pdf with one argument, {edition, title, editionLabel, citation};
// returns what the printer checks before it prints: the chapters, the figures,
// maths MathJax did not typeset and images that did not load.
async (options) => {
  const article = document.querySelector("article.bd-article");
  if (!article) throw new Error("no article.bd-article: is this the single-page build of the book?");
  const preface = article.querySelector(":scope > section");
  const wrappers = [...preface.querySelectorAll("div.toctree-wrapper")];
  const captions = [...document.querySelectorAll("nav.bd-docs-nav p.caption")].map((p) => p.textContent.trim());
  if (wrappers.length !== captions.length) {
    throw new Error(`${wrappers.length} inlined tables of contents but ${captions.length} part captions in the navigation`);
  }

  // The page is printed from one file, so a link to another "page" of the site is a link inside it.
  const here = new URL(document.baseURI);
  for (const link of document.querySelectorAll("a[href]")) {
    const target = new URL(link.getAttribute("href"), here);
    if (target.origin === here.origin && target.hash) link.setAttribute("href", target.hash);
  }

  // Solutions: left out of the students' edition, open in the instructors'.
  if (options.edition === "students") {
    document.querySelectorAll("div.solution").forEach((node) => node.remove());
  }
  // Hints and other dropdowns print open, without their toggle buttons.
  document.querySelectorAll(".toggle-hidden").forEach((node) => node.classList.remove("toggle-hidden"));
  document.querySelectorAll(".dropdown").forEach((node) => node.classList.remove("dropdown"));
  document.querySelectorAll("details").forEach((node) => { node.open = true; });
  document.querySelectorAll("button.toggle-button, button.copybtn, a.headerlink").forEach((node) => node.remove());

  // A step-through animation prints its first frame and says what the website shows.
  for (const player of document.querySelectorAll(".cnnlab-player")) {
    const controls = player.querySelector(".cnnlab-controls");
    const slider = player.querySelector("input[type=range]");
    const steps = slider ? Number(slider.max) + 1 : 1;
    const note = document.createElement("p");
    note.className = "print-note";
    note.textContent = `The first of this animation's ${steps} steps; the website steps through all of them.`;
    if (controls) controls.remove();
    player.append(note);
    player.querySelectorAll("script").forEach((node) => node.remove());
  }

  // The book: title page, contents, the preface (the home page), then each part and its chapters.
  const book = document.createElement("div");
  book.id = "print-book";
  const titlePage = document.createElement("section");
  titlePage.className = "print-title-page";
  const heading = preface.querySelector("h1");
  titlePage.innerHTML = "<p class=print-book-title></p><p class=print-edition></p><p class=print-citation></p>";
  titlePage.querySelector(".print-book-title").textContent = options.title;
  titlePage.querySelector(".print-edition").textContent = options.editionLabel;
  titlePage.querySelector(".print-citation").textContent = options.citation;
  book.append(titlePage);

  const contents = document.createElement("nav");
  contents.className = "print-contents";
  contents.innerHTML = "<h1 id=print-contents>Contents</h1>";
  const list = document.createElement("ol");
  contents.append(list);
  book.append(contents);

  const chapters = [];
  const parts = wrappers.map((wrapper, index) => ({ caption: captions[index], sections: [...wrapper.querySelectorAll(":scope > section")] }));
  wrappers.forEach((wrapper) => wrapper.remove());
  if (heading) heading.id = heading.id || "preface";
  preface.classList.add("print-preface");
  book.append(preface);
  addEntry(list, "", heading ? heading.textContent : options.title, "#" + preface.id, "print-preface-entry");

  let number = 0;
  parts.forEach((part, partIndex) => {
    const partHeading = document.createElement("h1");
    partHeading.className = "print-part";
    partHeading.id = `print-part-${partIndex + 1}`;
    partHeading.textContent = `Part ${partIndex + 1}: ${part.caption}`;
    book.append(partHeading);
    const partItem = addEntry(list, "", partHeading.textContent, "#" + partHeading.id, "print-part-entry", false);
    const chapterList = document.createElement("ol");
    partItem.append(chapterList);
    for (const section of part.sections) {
      number += 1;
      // Inlined chapters start at h3: lift every heading of the chapter by one level (its title becomes h2).
      for (const old of section.querySelectorAll("h3, h4, h5, h6")) {
        const lifted = document.createElement("h" + (Number(old.tagName[1]) - 1));
        for (const attribute of old.attributes) lifted.setAttribute(attribute.name, attribute.value);
        lifted.append(...old.childNodes);
        old.replaceWith(lifted);
      }
      const title = section.querySelector("h2");
      const label = document.createElement("span");
      label.className = "print-chapter-number";
      label.textContent = `${number} `;
      title.prepend(label);
      section.classList.add("print-chapter");
      book.append(section);
      const name = title.textContent.slice(label.textContent.length).trim();
      chapters.push(name);
      addEntry(chapterList, `${number}`, name, "#" + section.id, "print-chapter-entry");
    }
  });

  function addEntry(parent, numberText, text, href, className, numbered = true) {
    const item = document.createElement("li");
    item.className = className;
    const link = document.createElement("a");
    link.href = href;
    link.innerHTML = "<span class=print-entry-number></span><span class=print-entry-title></span><span class=print-entry-page></span>";
    link.querySelector(".print-entry-number").textContent = numberText;
    link.querySelector(".print-entry-title").textContent = text;
    // A fixed-width page column: the first printing prints a placeholder of the same width, and
    // booktools.publish.pdf puts the page numbers that printing found in its place before the second.
    link.querySelector(".print-entry-page").textContent = numbered ? "000" : "";
    item.append(link);
    parent.append(item);
    return item;
  }

  document.body.replaceChildren(book);
  document.documentElement.setAttribute("data-theme", "light");
  document.documentElement.setAttribute("data-mode", "light");
  await Promise.all([...document.images].map((image) => image.decode().catch(() => null)));
  return {
    chapters,
    ids: [preface.id, ...parts.flatMap((part) => part.sections.map((section) => section.id))],
    images: document.images.length,
    brokenImages: [...document.images].filter((image) => !image.complete || image.naturalWidth === 0).map((image) => image.src.slice(0, 80)),
    untypesetMaths: [...document.querySelectorAll(".math")].filter((node) => !node.querySelector("mjx-container")).map((node) => node.textContent.slice(0, 60)),
    solutions: document.querySelectorAll("div.solution").length,
  };
}
